"""ESPF provisioning events: the webhook receiver and the durable store the sensor reads."""

from connector.events.app import WebhookApp
from connector.events.auth import (
    Authenticator,
    BasicAuth,
    CustomAuth,
    SignatureAuth,
    WebhookConfigError,
    authenticator_from_env,
)
from connector.events.receiver import EventReceiver
from connector.events.store import (
    CLAIMED,
    DONE,
    PENDING,
    EntityRef,
    EventStore,
    EventStoreError,
    PendingBatch,
    PendingSummary,
    default_events_db_path,
)
from connector.events.types import EntityKind, Event, InvalidEvent, StoredEvent, parse_event

__all__ = [
    "CLAIMED",
    "DONE",
    "PENDING",
    "Authenticator",
    "BasicAuth",
    "CustomAuth",
    "EntityKind",
    "EntityRef",
    "Event",
    "EventReceiver",
    "EventStore",
    "EventStoreError",
    "InvalidEvent",
    "PendingBatch",
    "PendingSummary",
    "SignatureAuth",
    "StoredEvent",
    "WebhookApp",
    "WebhookConfigError",
    "authenticator_from_env",
    "default_events_db_path",
    "parse_event",
]
