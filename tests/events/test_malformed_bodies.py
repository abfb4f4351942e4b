"""A client's malformed body gets a clean 400 with the reason: no traceback, no error in the log."""

import json
import logging
from collections.abc import Iterator

import pytest
from espf_helpers import PASSWORD, USER, basic_header, post

from connector.entities import BUILT_IN
from connector.events import BasicAuth, EventStore
from connector.events.receiver import EventReceiver

ROUTING = BUILT_IN.routing()


def _body(variables: str = '"i_event": 1', event_type: str = '"Brand/NewThing"') -> bytes:
    return f'{{"event_type": {event_type}, "variables": {{{variables}}}}}'.encode()


MALFORMED = [
    (b"[" * 1000 + b"]" * 1000, "nested deeper"),
    (_body('"i_event": 1, "x": ' + "[" * 40 + "]" * 40), "nested deeper"),
    (_body('"i_event": ' + "7" * 5000), "digits"),
    (_body('"i_event": "' + "7" * 5000 + '"'), "i_event"),
    (_body('"i_event": 1, "balance": NaN'), "NaN"),
    (_body('"i_event": 1, "balance": Infinity'), "Infinity"),
    (_body('"i_event": 1, "balance": -Infinity'), "-Infinity"),
    (_body('"i_event": 1, "balance": 1e400'), "out of range"),
    (_body('"i_event": "\\u0661\\u0660\\u0667"'), "i_event"),  # Arabic-Indic 107
    (_body(event_type='"Foo/\\ud800"'), "surrogate"),
    (_body('"i_event": 1, "\\udfff": 1'), "surrogate"),
    (_body('"i_event": 1, "name": "\\ud83d"'), "surrogate"),
    (_body('"i_event": 1, "name": "') + b'\xff"}}', "UTF-8"),
    (b"\xef\xbb\xbf" + _body(), "malformed JSON"),  # a BOM is not JSON
    (b"", "malformed JSON"),
]


@pytest.fixture
def receiver(store: EventStore) -> Iterator[EventReceiver]:
    """A receiver with the default body limit, so the large bodies reach the parser."""
    with EventReceiver(store, BasicAuth(USER, PASSWORD), routing=ROUTING) as rx:
        yield rx


@pytest.mark.parametrize(("body", "reason"), MALFORMED)
def test_malformed_body_gets_a_clean_400(
    receiver: EventReceiver,
    store: EventStore,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = post(receiver.url, body, basic_header())
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert "Traceback" not in response.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum(store.counts().values()) == 0


def test_a_well_formed_body_next_to_them_is_stored(
    receiver: EventReceiver, store: EventStore
) -> None:
    nested = json.dumps({"a": [[{"b": "😀"}]]})
    response = post(receiver.url, _body(f'"i_event": 1, "x": {nested}, "n": 1.5'), basic_header())
    assert response.status_code == 200
    assert store.events([1])[0].variables["x"] == {"a": [[{"b": "😀"}]]}
