"""Errors name the environment variable the user set, and connection errors keep their cause."""

import logging
import socket
from typing import Any

import pytest

from connector import ClientSettings, ConfigurationError, PortaBillingClient, TransientError
from connector.api.transport_causes import clip

CALL = ("Account", "get_account_info", {"i_account": 1})


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("secrets", [{}, {"password": "pw", "api_token": "tok"}])
def test_credentials_name_both_variables(secrets: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PortaBillingClient("https://pb.example.com", login="api", **secrets)
    assert "set exactly one of PORTABILLING_PASSWORD and PORTABILLING_API_TOKEN" in str(
        caught.value
    )


def test_a_missing_ca_bundle_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="PORTABILLING_CA_BUNDLE"):
        PortaBillingClient("https://pb.example.com", login="api", password="pw", verify="/no/ca")


def test_an_untrusted_certificate_names_the_variable(make_emulator: Any, clock: Any) -> None:
    emulator = make_emulator(clock=clock, accounts=1, https=True)
    client = PortaBillingClient(emulator.url, login=emulator.login, password=emulator.password)
    with client, pytest.raises(ConfigurationError) as caught:
        client.call(*CALL)
    assert "TLS: certificate verify failed; set PORTABILLING_CA_BUNDLE" in str(caught.value)


def _give_up(url: str, clock: Any) -> str:
    settings = ClientSettings(max_retries=1)
    client = PortaBillingClient(
        url, login="api", password="pw", settings=settings, clock=clock, sleep=clock.sleep
    )
    with client, pytest.raises(TransientError) as caught:
        client.call(*CALL)
    return str(caught.value)


def test_a_refused_connection_says_so(clock: Any) -> None:
    message = _give_up(_closed_port_url(), clock)
    assert message == "Session/login: connection refused; gave up after 2 attempts"


def test_an_unknown_host_says_the_name_does_not_resolve(clock: Any) -> None:
    message = _give_up("http://no-such-host.invalid", clock)
    assert message == "Session/login: name does not resolve; gave up after 2 attempts"


def test_each_retry_logs_attempt_cause_and_delay(clock: Any, caplog: Any) -> None:
    log = logging.getLogger("a-run")
    settings = ClientSettings(max_retries=2)
    client = PortaBillingClient(
        _closed_port_url(),
        login="api",
        password="pw",
        settings=settings,
        clock=clock,
        sleep=clock.sleep,
        log=log,
    )
    with caplog.at_level(logging.INFO, logger="a-run"), client, pytest.raises(TransientError):
        client.call(*CALL)
    lines = [r.getMessage() for r in caplog.records if r.name == "a-run"]
    assert [line.split(" in ")[0] for line in lines] == [
        "Session/login: attempt 1 failed (connection refused); next attempt",
        "Session/login: attempt 2 failed (connection refused); next attempt",
    ]


def test_a_long_cause_is_cut_between_words() -> None:
    text = "Failed to establish a new connection: " + "word " * 60
    clipped = clip(text, 50)
    assert clipped == "Failed to establish a new connection: word word..."


@pytest.mark.parametrize(
    ("url", "options", "variable"),
    [
        ("ftp://pb.example.com", {}, "PORTABILLING_URL"),
        ("https://user:pw@pb.example.com", {}, "PORTABILLING_URL"),
        ("https://pb.example.com", {"login": " "}, "PORTABILLING_LOGIN"),
        ("https://pb.example.com", {"realm": "root"}, "PORTABILLING_REALM"),
    ],
)
def test_server_settings_name_their_variable(
    url: str, options: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"\({variable}\)$"):
        PortaBillingClient(url, **{"login": "api", "password": "pw", **options})
