"""A `Digest` header is checked against the body; a signature may cover more than `Date`."""

from typing import Any

import pytest
from espf_helpers import (
    delivery,
    digest_header,
    multi_signature_headers,
    post,
    signature_headers,
)

from connector.events import EventStore
from connector.events.auth import body_matches_digest
from connector.events.receiver import EventReceiver

BODY = delivery(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, True),
        (digest_header(BODY)["Digest"], True),
        (digest_header(BODY, "SHA-512")["Digest"], True),
        (digest_header(BODY)["Digest"].replace("SHA-256", "sha-256"), True),
        (digest_header(BODY)["Digest"] + ", MD5=whatever", True),
        (digest_header(b"other body")["Digest"], False),
        (digest_header(BODY)["Digest"] + "," + digest_header(b"x", "SHA-512")["Digest"], False),
        (digest_header(BODY, "MD5")["Digest"], False),  # nothing we can check
        ("SHA-256=", False),
        ("garbage", False),
    ],
)
def test_digest_header_against_the_body(header: str | None, expected: bool) -> None:
    assert body_matches_digest(header, BODY) is expected


def _stored(store: EventStore) -> int:
    return sum(store.counts().values())


def test_a_matching_digest_is_accepted(
    signature_receiver: EventReceiver, store: EventStore, clock: Any
) -> None:
    headers = {**signature_headers(clock()), **digest_header(BODY)}
    assert post(signature_receiver.url, BODY, headers).status_code == 200
    assert _stored(store) == 1


def test_a_digest_that_does_not_match_the_body_gets_401(
    signature_receiver: EventReceiver, store: EventStore, clock: Any
) -> None:
    headers = {**signature_headers(clock()), **digest_header(BODY)}
    response = post(signature_receiver.url, delivery(2), headers)
    assert response.status_code == 401
    assert "Digest" in response.json()["error"]
    assert _stored(store) == 0


@pytest.mark.parametrize(
    "names", [("date", "digest"), ("(request-target)", "date", "digest"), ("digest", "date")]
)
def test_a_signature_over_more_headers_is_verified(
    signature_receiver: EventReceiver, store: EventStore, clock: Any, names: tuple[str, ...]
) -> None:
    headers = multi_signature_headers(clock(), BODY, names)
    assert post(signature_receiver.url, BODY, headers).status_code == 200
    assert _stored(store) == 1


@pytest.mark.parametrize(
    ("tamper", "body"),
    [
        (lambda h, now: {**h, **digest_header(delivery(2))}, delivery(2)),  # both replaced
        (lambda h, now: {**h, "Date": signature_headers(now + 1)["Date"]}, BODY),
        (lambda h, now: {k: v for k, v in h.items() if k != "Digest"}, BODY),
    ],
)
def test_a_multi_header_signature_refuses_any_changed_header(
    signature_receiver: EventReceiver, store: EventStore, clock: Any, tamper: Any, body: bytes
) -> None:
    headers = tamper(multi_signature_headers(clock(), BODY, ("date", "digest")), clock())
    assert post(signature_receiver.url, body, headers).status_code == 401
    assert _stored(store) == 0


@pytest.mark.parametrize(
    ("names", "target"),
    [
        (("(request-target)", "date"), "post /other"),  # signed for another path
        (("digest",), "post /events"),  # no signed Date: nothing bounds a replay
    ],
)
def test_a_signature_not_covering_this_request_is_refused(
    signature_receiver: EventReceiver,
    store: EventStore,
    clock: Any,
    names: tuple[str, ...],
    target: str,
) -> None:
    headers = multi_signature_headers(clock(), BODY, names, target)
    assert post(signature_receiver.url, BODY, headers).status_code == 401
    assert _stored(store) == 0
