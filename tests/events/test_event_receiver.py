"""The webhook over real HTTP: auth, validation, limits, de-duplication and health."""

import http.client
import json
import logging
import sqlite3
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from espf_helpers import (
    CUSTOM_CREDENTIAL,
    CUSTOM_TYPE,
    PASSWORD,
    USER,
    basic_header,
    delivery,
    post,
    signature_headers,
)

from connector.emulator.tls import write_certificates
from connector.entities import BUILT_IN
from connector.events import BasicAuth, EntityRef, EventStore
from connector.events.receiver import EventReceiver

ROUTING = BUILT_IN.routing()


def _stored(store: EventStore) -> int:
    return sum(store.counts().values())


def test_valid_event_is_stored_before_200(basic_receiver: EventReceiver, store: EventStore) -> None:
    response = post(basic_receiver.url, delivery(17, i_account=1003), basic_header())
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [event] = store.events([17])
    assert event.entities == (EntityRef("accounts", 1003),)


def test_received_at_comes_from_the_injected_clock(
    basic_receiver: EventReceiver, store: EventStore, clock: Any
) -> None:
    post(basic_receiver.url, delivery(1), basic_header())
    assert store.events([1])[0].received_at.timestamp() == clock()


@pytest.mark.parametrize(
    "headers",
    [{}, basic_header(password="wrong"), basic_header(user="nobody"), {"Authorization": "Basic"}],
)
def test_bad_basic_credentials_get_401_and_store_nothing(
    basic_receiver: EventReceiver, store: EventStore, headers: dict[str, str]
) -> None:
    response = post(basic_receiver.url, delivery(1), headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert _stored(store) == 0


@pytest.mark.parametrize(
    ("credential", "status", "stored"), [(CUSTOM_CREDENTIAL, 200, 1), ("guess", 401, 0)]
)
def test_custom_scheme_checks_its_credential(
    custom_receiver: EventReceiver, store: EventStore, credential: str, status: int, stored: int
) -> None:
    headers = {"Authorization": f"{CUSTOM_TYPE} {credential}"}
    assert post(custom_receiver.url, delivery(1), headers).status_code == status
    assert _stored(store) == stored


def test_signature_scheme_accepts_a_fresh_signature(
    signature_receiver: EventReceiver, store: EventStore, clock: Any
) -> None:
    assert post(signature_receiver.url, delivery(1), signature_headers(clock())).status_code == 200
    assert _stored(store) == 1


@pytest.mark.parametrize(
    "headers_at",
    [lambda now: signature_headers(now, key="wrong"), lambda now: signature_headers(now - 3600)],
)
def test_signature_scheme_refuses_wrong_or_old_signatures(
    signature_receiver: EventReceiver, store: EventStore, clock: Any, headers_at: Any
) -> None:
    assert post(signature_receiver.url, delivery(1), headers_at(clock())).status_code == 401
    assert _stored(store) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (json.dumps({"variables": {"i_event": 1}}).encode(), "event_type"),
        (json.dumps({"event_type": "Subscriber/Updated", "variables": {}}).encode(), "i_event"),
        (json.dumps({"event_type": "Subscriber/Updated"}).encode(), "variables"),
    ],
)
def test_malformed_body_gets_400_with_the_reason(
    basic_receiver: EventReceiver, store: EventStore, body: bytes, reason: str
) -> None:
    response = post(basic_receiver.url, body, basic_header())
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert _stored(store) == 0


def test_oversized_body_gets_413(basic_receiver: EventReceiver, store: EventStore) -> None:
    body = delivery(1, padding="x" * 2000)  # the fixture's limit is 1024 bytes
    assert post(basic_receiver.url, body, basic_header()).status_code == 413
    assert _stored(store) == 0


def test_chunked_body_is_accepted(basic_receiver: EventReceiver, store: EventStore) -> None:
    chunks = iter([delivery(3)[:10], delivery(3)[10:]])
    assert post(basic_receiver.url, chunks, basic_header()).status_code == 200  # type: ignore[arg-type]
    assert _stored(store) == 1


def test_oversized_chunked_body_gets_413(basic_receiver: EventReceiver, store: EventStore) -> None:
    chunks = iter([b"x" * 800, b"x" * 800])
    assert post(basic_receiver.url, chunks, basic_header()).status_code == 413  # type: ignore[arg-type]
    assert _stored(store) == 0


def test_duplicate_i_event_answers_200_and_is_stored_once(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    first = post(basic_receiver.url, delivery(5), basic_header())
    again = post(basic_receiver.url, delivery("5"), basic_header())
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert _stored(store) == 1


def test_string_ids_are_normalized(basic_receiver: EventReceiver, store: EventStore) -> None:
    body = delivery("42", "Customer/Updated", i_customer="1000889")
    assert post(basic_receiver.url, body, basic_header()).status_code == 200
    [event] = store.events([42])
    assert event.entities == (EntityRef("customers", 1000889),)


def test_unknown_event_type_is_stored_and_acknowledged(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    body = delivery(9, "Brand/NewThing", whatever="x")
    assert post(basic_receiver.url, body, basic_header()).status_code == 200
    [event] = store.events([9])
    assert (event.event_type, event.entities) == ("Brand/NewThing", ())


def test_concurrent_deliveries_are_all_stored(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    def send(i_event: int) -> int:
        return post(basic_receiver.url, delivery(i_event), basic_header()).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(1, 201)))
    assert statuses == [200] * 200
    assert store.counts()["pending"] == 200


def test_health_reports_event_counts(basic_receiver: EventReceiver) -> None:
    post(basic_receiver.url, delivery(1), basic_header())
    response = requests.get(f"{basic_receiver.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "events": {"pending": 1, "claimed": 0, "done": 0, "dead": 0},
    }


def test_unknown_path_gets_404(basic_receiver: EventReceiver, store: EventStore) -> None:
    response = requests.post(
        f"{basic_receiver.url}/other", data=delivery(1), headers=basic_header(), timeout=10
    )
    assert response.status_code == 404
    assert _stored(store) == 0


def test_get_on_events_gets_405(basic_receiver: EventReceiver) -> None:
    assert requests.get(f"{basic_receiver.url}/events", timeout=10).status_code == 405


def test_store_failure_asks_the_sender_to_retry(
    basic_receiver: EventReceiver, store: EventStore
) -> None:
    store.close()  # every write now fails inside the committer
    response = post(basic_receiver.url, delivery(1), basic_header())
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_logs_never_show_credentials(
    basic_receiver: EventReceiver, store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    post(basic_receiver.url, delivery(1), basic_header(password=PASSWORD + "x"))
    post(basic_receiver.url, delivery(1), basic_header())
    store.close()
    post(basic_receiver.url, delivery(2), basic_header())
    assert caplog.records  # the failed commit was logged
    assert PASSWORD not in caplog.text
    assert basic_header()["Authorization"].split()[1] not in caplog.text


def test_a_locked_store_gets_503_then_recovers(db_path: str) -> None:
    with (
        EventStore(db_path, busy_timeout_s=0.1) as store,
        EventReceiver(store, BasicAuth(USER, PASSWORD), routing=ROUTING) as rx,
    ):
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock too long
        assert post(rx.url, delivery(1), basic_header()).status_code == 503
        other.execute("ROLLBACK")
        other.close()
        assert post(rx.url, delivery(1), basic_header()).status_code == 200
        assert _stored(store) == 1


def test_https_when_given_a_certificate(store: EventStore, tmp_path: Path) -> None:
    ca, cert, key = write_certificates(tmp_path, "127.0.0.1")
    with EventReceiver(
        store, BasicAuth(USER, PASSWORD), routing=ROUTING, tls=(str(cert), str(key))
    ) as rx:
        assert rx.url.startswith("https://")
        port = int(rx.url.rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(ca))
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
        connection.request("POST", "/events", delivery(1), basic_header())
        status = connection.getresponse().status
        connection.close()  # an idle TLS peer would hold the receiver's shutdown for its grace time
    assert status == 200
    assert _stored(store) == 1
