"""Fixtures for the event receiver and store: a fresh store and one receiver per auth scheme."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from espf_helpers import CUSTOM_CREDENTIAL, CUSTOM_TYPE, KEY_ID, PASSWORD, SIGNING_KEY, USER

from connector.entities import BUILT_IN
from connector.events import BasicAuth, CustomAuth, EventStore, SignatureAuth
from connector.events.receiver import EventReceiver

ROUTING = BUILT_IN.routing()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "events.sqlite3")


@pytest.fixture
def store(db_path: str) -> Iterator[EventStore]:
    with EventStore(db_path) as event_store:
        yield event_store


@pytest.fixture
def basic_receiver(store: EventStore, clock: Any) -> Iterator[EventReceiver]:
    with EventReceiver(
        store, BasicAuth(USER, PASSWORD), routing=ROUTING, max_body_bytes=1024, clock=clock
    ) as rx:
        yield rx


@pytest.fixture
def custom_receiver(store: EventStore) -> Iterator[EventReceiver]:
    with EventReceiver(store, CustomAuth(CUSTOM_TYPE, CUSTOM_CREDENTIAL), routing=ROUTING) as rx:
        yield rx


@pytest.fixture
def signature_receiver(store: EventStore, clock: Any) -> Iterator[EventReceiver]:
    auth = SignatureAuth(KEY_ID, SIGNING_KEY, max_clock_skew_s=300, clock=clock)
    with EventReceiver(store, auth, routing=ROUTING, clock=clock) as rx:
        yield rx
