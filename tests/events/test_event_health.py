"""`GET /health` shows a count for every state the store counts, whatever states it has."""

import requests
from espf_helpers import basic_header, delivery, post

from connector.events import EventStore
from connector.events.receiver import EventReceiver


def test_health_shows_every_state_the_store_counts(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    post(basic_receiver.url, delivery(1), basic_header())
    store.claim([1], "run-1")
    post(basic_receiver.url, delivery(2), basic_header())
    health = requests.get(f"{basic_receiver.url}/health", timeout=10).json()
    assert health == {"status": "ok", "events": store.counts()}
    assert (health["events"]["pending"], health["events"]["claimed"]) == (1, 1)
