"""Idle and slow peers cannot stop the receiver: a read deadline per request, a cap that evicts."""

import http.client
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from espf_helpers import PASSWORD, USER, basic_header, delivery, post

from connector.entities import BUILT_IN
from connector.events import BasicAuth, EventStore
from connector.events.connections import ConnectionLimits
from connector.events.receiver import EventReceiver

ROUTING = BUILT_IN.routing()

IDLE_SOCKETS = 1000


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> None:
    """Both ends of 1,000 sockets live in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * IDLE_SOCKETS
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _receiver(store: EventStore, limits: ConnectionLimits) -> EventReceiver:
    return EventReceiver(store, BasicAuth(USER, PASSWORD), routing=ROUTING, limits=limits)


def _address(receiver: EventReceiver) -> tuple[str, int]:
    host, port = receiver.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def idle_sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _open_idle(receiver: EventReceiver, count: int, stack: ExitStack) -> list[socket.socket]:
    """Connect `count` sockets that send nothing."""
    address = _address(receiver)
    return [stack.enter_context(socket.create_connection(address)) for _ in range(count)]


def _closed_by_server(sock: socket.socket, within_s: float = 10.0) -> bool:
    """Wait (on the socket, not a timer) for the server to close it; False if it stays open."""
    sock.settimeout(within_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_valid_posts_get_200_while_1000_idle_sockets_are_held(
    store: EventStore, idle_sockets: ExitStack
) -> None:
    only_the_cap = ConnectionLimits(read_timeout_s=60)  # no idle socket times out meanwhile
    with _receiver(store, only_the_cap) as rx:
        _open_idle(rx, IDLE_SOCKETS, idle_sockets)
        statuses = [post(rx.url, delivery(n), basic_header()).status_code for n in range(1, 21)]
    assert statuses == [200] * 20
    assert store.counts()["pending"] == 20


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"POST /events HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        + f"Authorization: {basic_header()['Authorization']}\r\n\r\n{{".encode(),  # body unfinished
    ],
)
def test_a_request_not_sent_in_time_is_cut_off(
    store: EventStore, idle_sockets: ExitStack, sent: bytes
) -> None:
    with _receiver(store, ConnectionLimits(read_timeout_s=0.5)) as rx:
        started = time.monotonic()  # before connecting: the server's clock starts later
        [sock] = _open_idle(rx, 1, idle_sockets)
        sock.sendall(sent)
        assert _closed_by_server(sock)
        assert time.monotonic() - started >= 0.4  # not at once (timers may round down)


def test_a_request_sent_in_time_is_served(store: EventStore) -> None:
    with _receiver(store, ConnectionLimits(read_timeout_s=0.5)) as rx:
        connection = http.client.HTTPConnection(*_address(rx), timeout=10)
        for n in (1, 2):  # one connection, a deadline per request
            connection.request("POST", "/events", delivery(n), basic_header())
            assert connection.getresponse().read() == b'{"status": "stored"}'
        connection.close()


def test_over_the_cap_an_unproven_connection_goes_before_an_older_trusted_one(
    store: EventStore, idle_sockets: ExitStack
) -> None:
    with _receiver(store, ConnectionLimits(max_connections=10, read_timeout_s=60)) as rx:
        trusted = http.client.HTTPConnection(*_address(rx), timeout=10)
        trusted.request("POST", "/events", delivery(1), basic_header())
        assert trusted.getresponse().read()
        refused = http.client.HTTPConnection(*_address(rx), timeout=10)
        refused.request("POST", "/events", b"", basic_header(password="guess"))
        assert refused.getresponse().status == 401
        _open_idle(rx, 9, idle_sockets)  # the 11th connection: one must go
        assert refused.sock is not None and _closed_by_server(refused.sock)
        trusted.request("POST", "/events", delivery(2), basic_header())
        assert trusted.getresponse().status == 200
        trusted.close()


def test_over_the_cap_the_longest_idle_connection_goes_first(
    store: EventStore, idle_sockets: ExitStack
) -> None:
    with _receiver(store, ConnectionLimits(max_connections=10, read_timeout_s=60)) as rx:
        oldest, *_ = _open_idle(rx, 10, idle_sockets)
        assert post(rx.url, delivery(1), basic_header()).status_code == 200
        assert _closed_by_server(oldest)


def test_a_websocket_upgrade_is_served_as_plain_http(store: EventStore) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    with _receiver(store, ConnectionLimits()) as rx:
        connection = http.client.HTTPConnection(*_address(rx), timeout=10)
        connection.request("GET", "/health", headers=upgrade)
        assert connection.getresponse().status == 200  # still under the read deadline and cap
        connection.close()
