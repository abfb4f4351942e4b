"""ESPF events as values: parsing a delivery, and which entities an event type names.

Which event groups name which entities is not known here: the caller passes a `Routing` (built
from `connector.entities`), so this package stays free of the rest of the connector.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

MAX_ID = 2**63 - 1  # int64, as SQLite and the tables store ids
_MAX_ID_DIGITS = len(str(MAX_ID))
MAX_TEXT_ID = 64  # a phone number with room to spare
_ID_TEXT = re.compile(r"\s*0*([0-9]+)\s*", re.ASCII)  # ASCII digits only


class Route(NamedTuple):
    """An entity an event group names (its table's name) and the variable holding its id.

    `is_text`: the variable is text (a DID's `number`), not an integer id.
    """

    entity: str
    id_variable: str
    is_text: bool = False


# Event-type group (text before the first "/") -> the entities it names.
Routing = Mapping[str, tuple[Route, ...]]


class EntityRef(NamedTuple):
    """An entity to re-read: `(kind, id)`, the kind being the entity's name (`accounts`)."""

    kind: str
    id: int | str


class InvalidEvent(ValueError):
    """A delivery that is not a usable ESPF event; the message is the reason, safe to send back."""


@dataclass(frozen=True)
class Event:
    """One provisioning event as received."""

    i_event: int
    event_type: str
    variables: dict[str, Any]
    entities: tuple[EntityRef, ...]
    received_at: datetime


@dataclass(frozen=True)
class StoredEvent(Event):
    """An event with its processing state: `pending`, `claimed` (by `run_id`) or `done`.

    `in_table`: whether its row is in the events table: None (no), `maybe` (an append holding
    it may have been published before the run died) or `yes`.
    """

    state: str
    run_id: str | None
    in_table: str | None = None


def parse_id(value: object, name: str, *, minimum: int = 1) -> int:
    """An id sent as an int or a string of ASCII digits, as an int from `minimum` to `MAX_ID`."""
    number = _id_number(value)
    if number is None:
        raise InvalidEvent(f"{name} must be an integer or a string of digits")
    if not minimum <= number <= MAX_ID:
        raise InvalidEvent(f"{name} is out of range")
    return number


def _id_number(value: object) -> int | None:
    """The int an id value spells (MAX_ID + 1 for any longer digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    match = _ID_TEXT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    digits = match.group(1)
    return int(digits) if len(digits) <= _MAX_ID_DIGITS else MAX_ID + 1  # no 5,000-digit int()


def _check_ids(variables: dict[str, Any]) -> None:
    """Every `i_*` variable is null or an id a table can hold (0 included: "none" in places)."""
    for name, value in variables.items():
        if name.startswith("i_") and value is not None:
            parse_id(value, f"variables.{name}", minimum=0)


def parse_text(value: object, name: str) -> str:
    """A text id (a DID's `number`): a string of 1 to `MAX_TEXT_ID` characters, not blank."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{name} must be a non-empty string")
    if len(value) > MAX_TEXT_ID:
        raise InvalidEvent(f"{name} is too long")
    return value


def entities_of(
    event_type: str, variables: dict[str, Any], routing: Routing
) -> tuple[EntityRef, ...]:
    """The entities an event names: none for types we only store (no route)."""
    routes = routing.get(event_type.split("/", 1)[0], ())
    return tuple(
        EntityRef(route.entity, _route_id(event_type, variables, route)) for route in routes
    )


def _route_id(event_type: str, variables: dict[str, Any], route: Route) -> int | str:
    if route.id_variable not in variables:
        raise InvalidEvent(f"{event_type} requires variables.{route.id_variable}")
    value, name = variables[route.id_variable], f"variables.{route.id_variable}"
    return parse_text(value, name) if route.is_text else parse_id(value, name)


def parse_event(payload: object, received_at: datetime, routing: Routing) -> Event:
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
    _check_ids(variables)
    return Event(
        i_event=i_event,
        event_type=event_type,
        variables=variables,
        entities=entities_of(event_type, variables, routing),
        received_at=received_at,
    )
