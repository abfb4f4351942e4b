"""ESPF provisioning events: the webhook receiver and the durable store the sensor reads.

The package names what the Dagster code loads (store, auth, types). The receiver and its ASGI app
(`connector.events.receiver`, `connector.events.app`) are imported from their modules, so loading
the definitions does not import the ASGI server (uvicorn).
"""

from connector.events.auth import (
    Authenticator,
    BasicAuth,
    CustomAuth,
    SignatureAuth,
    WebhookConfigError,
    authenticator_from_env,
)
from connector.events.store import (
    CLAIMED,
    DEAD,
    DONE,
    PENDING,
    DeadLetter,
    EventStore,
    EventStoreConfigError,
    EventStoreError,
    PendingBatch,
    PendingSummary,
    default_events_db_path,
)
from connector.events.types import (
    EntityRef,
    Event,
    InvalidEvent,
    Route,
    Routing,
    StoredEvent,
    parse_event,
)

__all__ = [
    "CLAIMED",
    "DEAD",
    "DONE",
    "PENDING",
    "Authenticator",
    "BasicAuth",
    "CustomAuth",
    "DeadLetter",
    "EntityRef",
    "Event",
    "EventStore",
    "EventStoreConfigError",
    "EventStoreError",
    "InvalidEvent",
    "PendingBatch",
    "PendingSummary",
    "Route",
    "Routing",
    "SignatureAuth",
    "StoredEvent",
    "WebhookConfigError",
    "authenticator_from_env",
    "default_events_db_path",
    "parse_event",
]
