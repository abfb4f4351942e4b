"""Parsing ESPF deliveries: ids as ints or strings, and which entities each event type names."""

from datetime import UTC, datetime

import pytest

from connector.entities import BUILT_IN
from connector.events import EntityRef, InvalidEvent, parse_event

ROUTING = BUILT_IN.routing()

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_type", "variables", "expected"),
    [
        ("Subscriber/Updated", {"i_account": 1003}, [("accounts", 1003)]),
        ("Account/BalanceChanged", {"i_account": "1000889"}, [("accounts", 1000889)]),
        ("Customer/Deleted", {"i_customer": 7}, [("customers", 7)]),
        (
            "Invoice/Created",
            {"i_customer": "8", "i_invoice": 99},
            [("customers", 8), ("invoices", 99)],
        ),
        ("DID/Created", {"number": "+0015551234"}, [("dids", "+0015551234")]),
        ("Brand/New/Thing", {}, []),
    ],
)
def test_event_type_maps_to_its_entities(
    event_type: str, variables: dict[str, object], expected: list[tuple[str, object]]
) -> None:
    event = parse_event(
        {"event_type": event_type, "variables": {"i_event": 1, **variables}}, AT, ROUTING
    )
    assert event.entities == tuple(EntityRef(kind, i) for kind, i in expected)


@pytest.mark.parametrize("raw", [17, "17", " 17 "])
def test_i_event_is_normalized_to_int(raw: object) -> None:
    variables = {"i_event": raw, "number": "15551234"}
    event = parse_event({"event_type": "DID/Updated", "variables": variables}, AT, ROUTING)
    assert event.i_event == 17


def test_variables_are_kept_as_received() -> None:
    variables = {"i_event": "5", "i_account": "1000889", "extra": [1, 2]}
    event = parse_event({"event_type": "Subscriber/Created", "variables": variables}, AT, ROUTING)
    assert event.variables == variables


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "JSON object"),
        ({"variables": {"i_event": 1}}, "event_type"),
        ({"event_type": "", "variables": {"i_event": 1}}, "event_type"),
        ({"event_type": "DID/Updated"}, "variables"),
        ({"event_type": "DID/Updated", "variables": {}}, "i_event"),
        ({"event_type": "DID/Updated", "variables": {"i_event": True}}, "i_event"),
        ({"event_type": "DID/Updated", "variables": {"i_event": 1.5}}, "i_event"),
        ({"event_type": "DID/Updated", "variables": {"i_event": "abc"}}, "i_event"),
        ({"event_type": "DID/Updated", "variables": {"i_event": -3}}, "i_event"),
        ({"event_type": "DID/Updated", "variables": {"i_event": 2**63}}, "i_event"),
        ({"event_type": "Subscriber/Updated", "variables": {"i_event": 1}}, "i_account"),
        (
            {"event_type": "Customer/Updated", "variables": {"i_event": 1, "i_customer": "x"}},
            "i_customer",
        ),
        (
            {"event_type": "Invoice/Updated", "variables": {"i_event": 1, "i_customer": 2}},
            "i_invoice",
        ),
        ({"event_type": "DID/Deleted", "variables": {"i_event": 1}}, "number"),
        ({"event_type": "DID/Updated", "variables": {"i_event": 1, "number": 15551234}}, "number"),
        ({"event_type": "DID/Updated", "variables": {"i_event": 1, "number": " "}}, "number"),
        ({"event_type": "DID/Updated", "variables": {"i_event": 1, "number": "5" * 65}}, "number"),
        (
            {"event_type": "DID/Updated", "variables": {"i_event": 1, "number": "5", "i_x": "y"}},
            "i_x",
        ),
    ],
)
def test_invalid_delivery_names_the_reason(payload: object, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(payload, AT, ROUTING)
