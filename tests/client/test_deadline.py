"""The per-attempt wall-clock deadline: a server that drips its answer cannot hold a call."""

import gzip
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from connector import ClientSettings, PortaBillingClient, TransientError

from .conftest import session_reply
from .scripted import Reply, ScriptedServer

CALL = ("Account", "get_account_info", {"i_account": 1})
ANSWER = {"account_info": {"i_account": 1}}
LONG_ANSWER = {"account_info": {"i_account": 1, "notes": "x" * 2000}}
PACE_S = 0.001  # real time per dripped byte: the whole long answer takes ~2 s, the deadline 60 ms
Factory = Callable[..., PortaBillingClient]


@pytest.fixture(autouse=True)
def logged_in(server: ScriptedServer) -> None:
    server.script("Session/login", session_reply("opaque-access"))


def one_byte_per_second(clock: Any) -> Callable[[], None]:
    """After each byte the fake clock moves a second (and the server pauses a moment for real)."""

    def after_each_byte() -> None:
        clock.advance(1.0)
        time.sleep(PACE_S)

    return after_each_byte


@pytest.fixture
def dripping(server: ScriptedServer, clock: Any) -> None:
    """The long answer, one byte per (fake) second."""
    drip = one_byte_per_second(clock)
    server.script("Account/get_account_info", Reply(200, LONG_ANSWER, drip=drip))


@pytest.mark.usefixtures("dripping")
def test_a_dripping_answer_fails_at_the_attempt_deadline(make_client: Factory, clock: Any) -> None:
    client = make_client(
        timeout=5.0, settings=ClientSettings(attempt_deadline_s=60.0, max_retries=0)
    )
    started = clock()
    with pytest.raises(TransientError, match="no complete answer within 60 s") as caught:
        client.call(*CALL)
    assert caught.value.method == "get_account_info"
    assert clock() - started < len(json.dumps(LONG_ANSWER))  # it did not wait for the whole body


@pytest.mark.usefixtures("dripping")
def test_no_attempt_outlives_the_retry_budget(make_client: Factory, clock: Any) -> None:
    client = make_client(
        timeout=5.0, settings=ClientSettings(attempt_deadline_s=1000.0, retry_budget_s=100.0)
    )
    started = clock()
    with pytest.raises(TransientError, match="no complete answer within 100 s"):
        client.call(*CALL)
    assert clock() - started < 1000.0


def test_a_stall_after_the_headers_ends_at_the_deadline_not_the_read_timeout(
    server: ScriptedServer, make_client: Factory
) -> None:
    released = threading.Event()
    server.script("Account/get_account_info", Reply(200, ANSWER, drip=lambda: released.wait(10)))
    client = make_client(
        timeout=5.0, settings=ClientSettings(attempt_deadline_s=0.2, max_retries=0)
    )
    try:
        with pytest.raises(TransientError, match=r"no complete answer within 0\.2 s"):
            client.call(*CALL)
    finally:
        released.set()


def test_a_slow_answer_complete_within_the_deadline_is_taken(
    server: ScriptedServer, make_client: Factory, clock: Any
) -> None:
    server.script("Account/get_account_info", Reply(200, ANSWER, drip=one_byte_per_second(clock)))
    client = make_client(timeout=5.0, settings=ClientSettings(attempt_deadline_s=60.0))
    assert client.call(*CALL) == ANSWER
    assert client.stats.retries == 0


def test_a_large_answer_arrives_whole(server: ScriptedServer, make_client: Factory) -> None:
    rows = [{"i_account": i, "id": f"acc-{i:08d}"} for i in range(100_000)]
    server.script("Account/get_account_list", Reply(200, {"account_list": rows}))
    assert make_client().call("Account", "get_account_list")["account_list"] == rows


def test_a_gzip_encoded_answer_is_decoded(server: ScriptedServer, make_client: Factory) -> None:
    packed = gzip.compress(json.dumps(ANSWER).encode())
    server.script("Account/get_account_info", Reply(200, packed, {"Content-Encoding": "gzip"}))
    assert make_client().call(*CALL) == ANSWER
