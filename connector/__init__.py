"""PortaBilling connector for Dagster: customers, accounts and xDRs as typed Parquet tables."""

from connector.client import ClientStats, PortaBillingClient
from connector.errors import (
    AuthenticationError,
    ConfigurationError,
    FaultError,
    PortaBillingError,
    ProtocolError,
    SessionRejectedError,
    TransientError,
)

__all__ = [
    "AuthenticationError",
    "ClientStats",
    "ConfigurationError",
    "FaultError",
    "PortaBillingClient",
    "PortaBillingError",
    "ProtocolError",
    "SessionRejectedError",
    "TransientError",
]
