"""The durable event store: de-duplication, coalescing, and the pending → claimed → done cycle."""

import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from espf_helpers import make_event

from connector.entities import BUILT_IN
from connector.events import (
    CLAIMED,
    DEAD,
    DONE,
    PENDING,
    EntityRef,
    Event,
    EventStore,
    EventStoreError,
    PendingSummary,
)

ROUTING = BUILT_IN.routing()


def test_add_stores_once_per_i_event(store: EventStore) -> None:
    assert store.add(make_event(1)) is True
    assert store.add(make_event(1)) is False
    assert store.counts() == {PENDING: 1, CLAIMED: 0, DONE: 0, DEAD: 0}


def test_add_many_flags_duplicates_within_one_batch(store: EventStore) -> None:
    assert store.add_many([make_event(1), make_event(2), make_event(1)]) == [True, True, False]


def test_pending_entities_coalesces_events_per_entity(store: EventStore) -> None:
    store.add_many(
        [
            make_event(1, i_account=1001),
            make_event(2, "Account/Blocked", i_account="1001"),
            make_event(3, "Invoice/Created", i_customer=5, i_invoice=9),
            make_event(4, "Customer/Updated", i_customer=5),
            make_event(5, "DID/Created", number="555"),
        ]
    )
    batch = store.pending_entities()
    assert batch.entities == (
        EntityRef("accounts", 1001),
        EntityRef("customers", 5),
        EntityRef("dids", "555"),
        EntityRef("invoices", 9),
    )
    assert sorted(batch.i_events) == [1, 2, 3, 4, 5]
    assert batch.max_i_event == 5
    assert batch.ids("customers") == (5,)


def test_pending_entities_limit_takes_the_oldest_arrivals(store: EventStore) -> None:
    for i_event in (30, 10, 20):
        store.add(make_event(i_event))
    assert store.pending_entities(limit=2).i_events == (30, 10)


def test_empty_store_has_an_empty_batch(store: EventStore) -> None:
    batch = store.pending_entities()
    assert batch.is_empty and batch.max_i_event is None and batch.entities == ()


def test_claimed_events_are_no_longer_pending(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    assert store.claim([1], "run-a") == 1
    assert store.pending_entities().i_events == (2,)
    assert store.claimed_runs() == {"run-a": 1}


def test_an_event_is_claimed_by_one_run_only(store: EventStore) -> None:
    store.add(make_event(1))
    store.claim([1], "run-a")
    assert store.claim([1], "run-b") == 0
    assert [event.run_id for event in store.events([1])] == ["run-a"]


def test_complete_marks_the_runs_events_done(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.claim([1, 2], "run-a")
    assert store.complete("run-a") == 2
    assert store.counts() == {PENDING: 0, CLAIMED: 0, DONE: 2, DEAD: 0}
    assert store.complete("run-a") == 0


def test_release_returns_a_failed_runs_events_to_pending(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.claim([1, 2], "run-a")
    assert store.release("run-a") == 2
    assert sorted(store.pending_entities().i_events) == [1, 2]
    assert {event.run_id for event in store.events([1, 2])} == {None}


def test_release_leaves_other_runs_alone(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.claim([1], "run-a")
    store.claim([2], "run-b")
    store.release("run-a")
    assert store.claimed_runs() == {"run-b": 1}


def test_release_stale_frees_claims_of_runs_that_died(db_path: str, clock: Any) -> None:
    with EventStore(db_path, clock=clock) as store:
        store.add_many([make_event(1), make_event(2)])
        store.claim([1], "run-old")
        clock.advance(600)
        store.claim([2], "run-new")
        assert store.release_stale(max_age_s=300) == 1
        assert store.claimed_runs() == {"run-new": 1}


def test_requeue_done_since_returns_events_applied_after_a_moment(db_path: str, clock: Any) -> None:
    with EventStore(db_path, clock=clock) as store:
        store.add_many(
            [make_event(1), make_event(2), make_event(3, "Customer/Updated", i_customer=7)]
        )
        store.claim([1], "run-early")
        store.complete("run-early")
        clock.advance(60)
        snapshot_started = clock()
        store.claim([2, 3], "run-late")
        store.complete("run-late")
        assert store.requeue_done_since(snapshot_started, "accounts") == 1
        assert store.pending_entities().i_events == (2,)
        assert store.counts() == {PENDING: 1, CLAIMED: 0, DONE: 2, DEAD: 0}


def test_events_returns_stored_fields(store: EventStore) -> None:
    store.add(make_event(7, "Invoice/Updated", i_customer="42", i_invoice=3))
    [event] = store.events([7, 8])
    assert (event.i_event, event.event_type, event.entities) == (
        7,
        "Invoice/Updated",
        (EntityRef("customers", 42), EntityRef("invoices", 3)),
    )
    assert event.variables == {"i_event": 7, "i_customer": "42", "i_invoice": 3}
    assert event.received_at.tzinfo == UTC and event.state == PENDING


def test_events_survive_reopening_the_store(db_path: str) -> None:
    with EventStore(db_path) as store:
        store.add(make_event(1))
    with EventStore(db_path) as reopened:
        assert [event.i_event for event in reopened.events([1])] == [1]


def test_a_store_that_cannot_use_wal_is_refused() -> None:
    with pytest.raises(EventStoreError, match="WAL"):
        EventStore(":memory:")


_WRITER = """
import sys
from datetime import UTC, datetime
from connector.entities import BUILT_IN
from connector.events import EventStore, parse_event
ROUTING = BUILT_IN.routing()
with EventStore(sys.argv[1]) as store:
    for i in range(1, int(sys.argv[2]) + 1):
        payload = {"event_type": "Subscriber/Updated", "variables": {"i_event": i, "i_account": i}}
        store.add(parse_event(payload, datetime.now(UTC), ROUTING))
"""


def test_two_processes_share_the_store(store: EventStore, db_path: str) -> None:
    total = 500
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_WRITER), db_path, str(total)])
    runs = 0
    while writer.poll() is None or not store.pending_entities().is_empty:
        batch = store.pending_entities(limit=200)
        runs += 1
        store.claim(batch.i_events, f"run-{runs}")
        store.complete(f"run-{runs}")
    assert writer.returncode == 0
    assert store.counts() == {PENDING: 0, CLAIMED: 0, DONE: total, DEAD: 0}


_SEED_BACKLOG = """
INSERT INTO events (i_event, event_type, variables, entities, received_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
SELECT i, 'Subscriber/Updated', json_object('i_event', i),
    json_array(json_array('accounts', 1 + i % 5000)), 0 FROM n
"""


def test_sensor_reads_of_100k_pending_events_are_fast(store: EventStore, db_path: str) -> None:
    seed = sqlite3.connect(db_path)  # seeded in SQL: this test is about reading
    with seed:
        seed.execute(_SEED_BACKLOG, (100_000,))
    seed.close()
    started = time.perf_counter()
    summary = store.pending_summary()
    batch = store.pending_entities()
    claimed = store.claim_pending("run-big")
    elapsed = time.perf_counter() - started
    assert (summary.count, len(batch.entities), len(claimed.i_events)) == (100_000, 5000, 100_000)
    assert elapsed < 5.0


def test_pending_summary_counts_without_reading_the_backlog(store: EventStore) -> None:
    store.add_many([make_event(3), make_event(9), make_event(5)])
    store.claim([9], "run-a")
    assert store.pending_summary() == PendingSummary(count=2, max_i_event=5)


def test_pending_summary_of_an_empty_backlog(store: EventStore) -> None:
    assert store.pending_summary() == PendingSummary(count=0, max_i_event=None)


def test_claim_pending_claims_exactly_the_batch_it_returns(store: EventStore) -> None:
    store.add_many([make_event(1, i_account=7), make_event(2, i_account=7), make_event(3)])
    batch = store.claim_pending("run-a", limit=2)
    assert (sorted(batch.i_events), batch.entities) == ([1, 2], (EntityRef("accounts", 7),))
    assert store.claimed_runs() == {"run-a": 2}
    assert store.pending_entities().i_events == (3,)


def test_claim_pending_never_hands_an_event_to_two_runs(store: EventStore) -> None:
    store.add_many(make_event(i) for i in range(1, 101))
    first = store.claim_pending("run-a", limit=60)
    second = store.claim_pending("run-b")
    assert set(first.i_events).isdisjoint(second.i_events)
    assert len(first.i_events) + len(second.i_events) == 100


def test_prune_done_deletes_only_old_done_events(db_path: str, clock: Any) -> None:
    def received(i_event: int) -> Event:
        at = datetime.fromtimestamp(clock(), UTC)
        return Event(i_event, "Brand/NewThing", {"i_event": i_event}, (), at)

    with EventStore(db_path, clock=clock) as store:
        store.add_many([received(1), received(2)])
        clock.advance(86_400)
        store.add(received(3))
        store.claim([1, 3], "run-a")
        store.complete("run-a")
        assert store.prune_done(older_than_s=3600) == 1
        assert [event.i_event for event in store.events([1, 2, 3])] == [2, 3]
