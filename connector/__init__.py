"""PortaBilling connector for Dagster: customers, accounts and xDRs as typed Parquet tables."""

from connector.api.client import ClientStats, PortaBillingClient
from connector.api.errors import (
    AuthenticationError,
    ConfigurationError,
    FaultError,
    PortaBillingError,
    ProtocolError,
    SessionRejectedError,
    TransientError,
)
from connector.api.settings import ClientSettings

__all__ = [
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
