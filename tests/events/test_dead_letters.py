"""Dead-lettered events: set aside with their error, counted, listed, and requeued on demand."""

from datetime import UTC, datetime
from typing import Any

import requests
from espf_helpers import make_event

from connector.events import CLAIMED, DEAD, DONE, PENDING, DeadLetter, EventStore
from connector.events.receiver import EventReceiver


def test_dead_letter_sets_claimed_events_aside_with_the_error(db_path: str, clock: Any) -> None:
    with EventStore(db_path, clock=clock) as store:
        store.add_many([make_event(1), make_event(2), make_event(3)])
        store.claim_pending("run-a")
        assert store.dead_letter([2], "FaultError: Account/get_account_info: broken") == 1
        assert store.complete("run-a") == 2
        assert store.counts() == {PENDING: 0, CLAIMED: 0, DONE: 2, DEAD: 1}
        assert store.dead_letters() == [
            DeadLetter(
                2,
                "Subscriber/Updated",
                "FaultError: Account/get_account_info: broken",
                datetime.fromtimestamp(clock(), UTC),
            )
        ]


def test_a_released_run_leaves_its_dead_letters_dead(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.claim_pending("run-a")
    store.dead_letter([1], "bad")
    assert store.release("run-a") == 1
    assert [event.state for event in store.events([1, 2])] == [DEAD, PENDING]


def test_done_events_cannot_be_dead_lettered(store: EventStore) -> None:
    store.add(make_event(1))
    store.claim([1], "run-a")
    store.complete("run-a")
    assert store.dead_letter([1], "too late") == 0
    assert store.dead_letters() == []


def test_the_error_is_kept_short_and_on_one_line(store: EventStore) -> None:
    store.add(make_event(1))
    store.dead_letter([1], "first line\nsecond line " + "x" * 1000)
    [dead] = store.dead_letters()
    assert dead.error.startswith("first line second line x")
    assert len(dead.error) == 300


def test_requeue_dead_puts_every_dead_letter_back_to_pending(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2), make_event(3)])
    store.dead_letter([1, 3], "bad")
    assert store.requeue_dead() == 2
    assert store.counts()[DEAD] == 0
    assert sorted(store.pending_entities().i_events) == [1, 2, 3]
    assert store.dead_letters() == []


def test_requeue_dead_can_take_some_events_only(store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.dead_letter([1, 2], "bad")
    assert store.requeue_dead([2, 99]) == 1
    assert [dead.i_event for dead in store.dead_letters()] == [1]


def test_health_counts_dead_letters(basic_receiver: EventReceiver, store: EventStore) -> None:
    store.add_many([make_event(1), make_event(2)])
    store.dead_letter([2], "bad")
    response = requests.get(f"{basic_receiver.url}/health", timeout=10)
    assert response.json()["events"] == {PENDING: 1, CLAIMED: 0, DONE: 0, DEAD: 1}
