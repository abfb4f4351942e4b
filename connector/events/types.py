"""ESPF events as values: parsing a delivery, and which entity an event type names."""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

_MAX_SQLITE_INT = 2**63 - 1
_DIGITS = re.compile(r"\s*\d+\s*")


class EntityKind(StrEnum):
    """The entities an event can ask us to re-read."""

    ACCOUNT = "account"
    CUSTOMER = "customer"


# Event-type group (text before the first "/") -> (entity kind, id variable).
_ENTITY_BY_GROUP: dict[str, tuple[EntityKind, str]] = {
    "Subscriber": (EntityKind.ACCOUNT, "i_account"),
    "Account": (EntityKind.ACCOUNT, "i_account"),
    "Customer": (EntityKind.CUSTOMER, "i_customer"),
    "Invoice": (EntityKind.CUSTOMER, "i_customer"),
}


class InvalidEvent(ValueError):
    """A delivery that is not a usable ESPF event; the message is the reason, safe to send back."""


@dataclass(frozen=True)
class Event:
    """One provisioning event as received."""

    i_event: int
    event_type: str
    variables: dict[str, Any]
    entity_kind: EntityKind | None
    entity_id: int | None
    received_at: datetime


@dataclass(frozen=True)
class StoredEvent(Event):
    """An event with its processing state: `pending`, `claimed` (by `run_id`) or `done`."""

    state: str
    run_id: str | None


def parse_id(value: object, name: str) -> int:
    """An id sent as an int or a string of digits, as a positive int."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidEvent(f"{name} must be an integer or a string of digits")
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise InvalidEvent(f"{name} must be an integer or a string of digits")
    number = int(value)
    if not 0 < number <= _MAX_SQLITE_INT:
        raise InvalidEvent(f"{name} is out of range")
    return number


def entity_of(event_type: str, variables: dict[str, Any]) -> tuple[EntityKind, int] | None:
    """The entity an event names, or None for types we only store (DID/*, unknown)."""
    mapping = _ENTITY_BY_GROUP.get(event_type.split("/", 1)[0])
    if mapping is None:
        return None
    kind, id_name = mapping
    if id_name not in variables:
        raise InvalidEvent(f"{event_type} requires variables.{id_name}")
    return kind, parse_id(variables[id_name], f"variables.{id_name}")


def parse_event(payload: object, received_at: datetime) -> Event:
    """Validate a decoded ESPF body; raise `InvalidEvent` with the reason."""
    if not isinstance(payload, dict):
        raise InvalidEvent("body must be a JSON object")
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise InvalidEvent("event_type is missing or not a non-empty string")
    variables = payload.get("variables")
    if not isinstance(variables, dict):
        raise InvalidEvent("variables is missing or not an object")
    if "i_event" not in variables:
        raise InvalidEvent("variables.i_event is missing")
    i_event = parse_id(variables["i_event"], "variables.i_event")
    entity = entity_of(event_type, variables)
    return Event(
        i_event=i_event,
        event_type=event_type,
        variables=variables,
        entity_kind=entity[0] if entity else None,
        entity_id=entity[1] if entity else None,
        received_at=received_at,
    )
