"""Every public name imports from the package root, and the error tree is ordered as documented."""

import connector
from connector import (
    AuthenticationError,
    ClientSettings,
    ClientStats,
    ConfigurationError,
    FaultError,
    PortaBillingClient,
    PortaBillingError,
    ProtocolError,
    SessionRejectedError,
    TransientError,
)


def test_every_exported_name_is_importable() -> None:
    assert sorted(connector.__all__) == sorted(
        [
            "AuthenticationError",
            "ClientSettings",
            "ClientStats",
            "ConfigurationError",
            "FaultError",
            "PortaBillingClient",
            "PortaBillingError",
            "ProtocolError",
            "SessionRejectedError",
            "TransientError",
        ]
    )
    assert all(getattr(connector, name) is not None for name in connector.__all__)


def test_errors_share_one_root() -> None:
    for error in (
        AuthenticationError,
        ConfigurationError,
        FaultError,
        ProtocolError,
        TransientError,
    ):
        assert issubclass(error, PortaBillingError)
    assert issubclass(SessionRejectedError, AuthenticationError)
    assert issubclass(ConfigurationError, ValueError)


def test_client_and_stats_are_classes() -> None:
    assert callable(PortaBillingClient.call)
    assert ClientStats().as_dict()["requests"] == 0
    assert PortaBillingClient("https://pb.example.com", login="a", password="b").settings == (
        ClientSettings()
    )
