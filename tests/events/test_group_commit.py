"""Group commit isolation: an event that cannot be stored fails alone; its batch commits."""

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace

from espf_helpers import basic_header, delivery, make_event, post

from connector.events import Event, EventStore
from connector.events.committer import GroupCommitter
from connector.events.receiver import EventReceiver

POISONED = {7, 50, 51, 120, 199}


def _poisoned(i_event: int) -> Event:
    """An event SQLite cannot store: a lone surrogate cannot be encoded as UTF-8."""
    return replace(make_event(i_event, "Brand/NewThing"), event_type="Foo/\ud800")


async def _submit_together(store: EventStore, events: list[Event]) -> list[object]:
    """Submit all at once, so the committer takes them as one batch."""
    committer = GroupCommitter(store)
    submitted = (committer.submit(event) for event in events)
    return await asyncio.gather(*submitted, return_exceptions=True)


def test_a_poisoned_event_fails_alone_in_its_batch(store: EventStore) -> None:
    events = [_poisoned(n) if n in POISONED else make_event(n) for n in range(1, 201)]
    outcomes = asyncio.run(_submit_together(store, events))
    failed = {n for n, outcome in enumerate(outcomes, 1) if isinstance(outcome, Exception)}
    assert failed == POISONED
    assert all(isinstance(outcomes[n - 1], UnicodeEncodeError) for n in POISONED)
    assert [e.i_event for e in store.events(range(1, 201))] == sorted(set(range(1, 201)) - POISONED)


def test_duplicates_keep_their_answer_when_the_batch_is_stored_one_by_one(
    store: EventStore,
) -> None:
    store.add(make_event(2))
    outcomes = asyncio.run(_submit_together(store, [make_event(1), make_event(2), _poisoned(3)]))
    assert outcomes[:2] == [True, False]
    assert isinstance(outcomes[2], UnicodeEncodeError)


def test_a_closed_store_fails_the_whole_batch(store: EventStore) -> None:
    store.close()
    outcomes = asyncio.run(_submit_together(store, [make_event(n) for n in range(1, 4)]))
    assert all(isinstance(outcome, Exception) for outcome in outcomes)


def _post_concurrently(url: str, bodies: dict[int, bytes]) -> dict[int, int]:
    """POST every body from 32 threads at once; i_event -> status."""

    def send(i_event: int) -> tuple[int, int]:
        return i_event, post(url, bodies[i_event], basic_header()).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        return dict(pool.map(send, bodies))


def _refused(statuses: dict[int, int]) -> dict[int, int]:
    return {i_event: status for i_event, status in statuses.items() if status != 200}


def test_only_the_senders_of_poisoned_bodies_are_refused(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    bodies = {n: delivery(n) for n in range(1, 201)}
    for n in POISONED:
        bodies[n] = json.dumps({"event_type": "Foo/\ud800", "variables": {"i_event": n}}).encode()
    assert _refused(_post_concurrently(basic_receiver.url, bodies)) == dict.fromkeys(POISONED, 400)
    assert store.counts()["pending"] == 200 - len(POISONED)


def test_only_the_senders_of_rows_the_store_refuses_are_refused(
    basic_receiver: EventReceiver, store: EventStore, db_path: str
) -> None:
    with closing(sqlite3.connect(db_path)) as other:  # a constraint refusing some rows only
        other.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON events"
            f" WHEN NEW.i_event IN ({','.join(map(str, POISONED))})"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    bodies = {n: delivery(n) for n in range(1, 201)}
    assert _refused(_post_concurrently(basic_receiver.url, bodies)) == dict.fromkeys(POISONED, 503)
    assert store.counts()["pending"] == 200 - len(POISONED)
