"""Every `i_*` variable of every event type is checked at receipt: nothing stored can fail later."""

from datetime import UTC, datetime

import pytest
from espf_helpers import basic_header, post

from connector.entities import BUILT_IN
from connector.events import EventStore, InvalidEvent, parse_event
from connector.events.receiver import EventReceiver

ROUTING = BUILT_IN.routing()

AT = datetime(2026, 1, 1, tzinfo=UTC)
ARABIC_INDIC_107 = "\u0661\u0660\u0667"


def _parse(event_type: str, **variables: object) -> None:
    parse_event({"event_type": event_type, "variables": {"i_event": 1, **variables}}, AT, ROUTING)


@pytest.mark.parametrize(
    ("event_type", "variables", "named"),
    [
        ("Customer/Updated", {"i_customer": 1, "i_account": "not-a-number"}, "i_account"),
        ("Brand/New", {"i_customer": 2**64}, "i_customer"),
        ("DID/Created", {"i_did": ARABIC_INDIC_107}, "i_did"),  # int() would read 107
        ("DID/Created", {"i_did": "-5"}, "i_did"),
        ("DID/Created", {"i_did": "+5"}, "i_did"),
        ("DID/Created", {"i_did": -5}, "i_did"),
        ("DID/Created", {"i_did": 1.0}, "i_did"),
        ("DID/Created", {"i_did": False}, "i_did"),
        ("DID/Created", {"i_did": ""}, "i_did"),
        ("DID/Created", {"i_did": [1]}, "i_did"),
        ("DID/Created", {"i_did": "9" * 5000}, "i_did"),
        ("DID/Created", {"i_did": str(2**63)}, "i_did"),
        ("Subscriber/Updated", {"i_account": 0}, "i_account"),
        ("Subscriber/Updated", {"i_account": None}, "i_account"),
    ],
)
def test_an_id_that_no_table_can_hold_is_refused_by_name(
    event_type: str, variables: dict[str, object], named: str
) -> None:
    with pytest.raises(InvalidEvent, match=f"variables.{named} "):
        _parse(event_type, **variables)


@pytest.mark.parametrize(
    "value", [0, 7, "7", " 7 ", "0007", 2**63 - 1, str(2**63 - 1), "0" * 30 + "7", None]
)
def test_other_ids_may_be_zero_null_or_padded(value: object) -> None:
    _parse("Customer/Updated", i_customer=5, i_parent=value)


@pytest.mark.parametrize("raw", [ARABIC_INDIC_107, "\uff11\uff10\uff17", "10\u00a07"])
def test_i_event_in_non_ascii_digits_is_refused(raw: str) -> None:
    with pytest.raises(InvalidEvent, match="i_event"):
        parse_event({"event_type": "DID/Updated", "variables": {"i_event": raw}}, AT, ROUTING)


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_type":"Customer/Updated","variables":{"i_event":2,"i_customer":1,'
        b'"i_account":"not-a-number"}}',
        b'{"event_type":"Brand/New","variables":{"i_event":2,"i_customer":18446744073709551616}}',
    ],
)
def test_the_receiver_answers_400_and_stores_nothing(
    basic_receiver: EventReceiver, store: EventStore, body: bytes
) -> None:
    response = post(basic_receiver.url, body, basic_header())
    assert response.status_code == 400
    assert "variables.i_" in response.json()["error"]
    assert sum(store.counts().values()) == 0
