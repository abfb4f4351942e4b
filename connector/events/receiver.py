"""The HTTP receiver for ESPF deliveries: `POST /events` (durable before 200) and `GET /health`."""

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from connector.events.auth import Authenticator, BasicAuth
from connector.events.committer import CommitterClosed, GroupCommitter
from connector.events.store import EventStore
from connector.events.types import Event, InvalidEvent, parse_event

DEFAULT_MAX_BODY_BYTES = 64 * 1024
_SOCKET_TIMEOUT_S = 30.0  # a client that stalls mid-request does not hold a thread for ever
_COMMIT_TIMEOUT_S = 60.0
_RETRY_AFTER_S = "5"
_SHUTDOWN_POLL_S = 0.05  # how soon `stop` takes effect

logger = logging.getLogger(__name__)


class _RejectedRequest(Exception):
    """Answer the request with `status` and `reason`, storing nothing."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EventReceiver:
    """Serves the webhook on a background thread; `with EventReceiver(...) as rx: rx.url`."""

    def __init__(
        self,
        store: EventStore,
        auth: Authenticator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self._address = (host, port)
        self._server: _Server | None = None
        self._committer: GroupCommitter | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EventReceiver(store={self.store!r}, auth={self.auth!r})"

    @property
    def url(self) -> str:
        """Base URL: events at `url + "/events"`, health at `url + "/health"`."""
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "EventReceiver":
        self._committer = GroupCommitter(self.store)
        self._server = _Server(self._address, _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_S},
            name="event-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, then commit what in-flight requests already handed over."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._committer is not None:
            self._committer.close()

    def __enter__(self) -> "EventReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, event: Event) -> bool:
        """Store one event durably through the group committer; False if a duplicate `i_event`."""
        if self._committer is None:
            raise CommitterClosed("the receiver is not started")
        return self._committer.submit(event, timeout=_COMMIT_TIMEOUT_S)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # ESPF and load tests open bursts of connections

    def __init__(
        self, address: tuple[str, int], handler: type["_Handler"], receiver: EventReceiver
    ) -> None:
        self.receiver = receiver
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "portabilling-webhook"
    sys_version = ""
    timeout = _SOCKET_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only (no headers, so never the Authorization value).
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        if self.path != "/health":
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            counts = self.server.receiver.store.counts()
        except sqlite3.Error as exc:
            logger.error("health check: event store unavailable: %s", exc)
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "unavailable"})
            return
        self._reply(HTTPStatus.OK, {"status": "ok", "events": counts})

    def do_POST(self) -> None:
        if self.path != "/events":
            self._reject(_RejectedRequest(HTTPStatus.NOT_FOUND, "not found"))
            return
        try:
            self._check_authorized()
            is_new = self.server.receiver.submit(self._parse(self._read_body()))
        except _RejectedRequest as rejection:
            self._reject(rejection)
        except (sqlite3.Error, CommitterClosed, TimeoutError) as exc:
            logger.error("event not stored, asking the sender to retry: %s", type(exc).__name__)
            self._reply(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"error": "event store unavailable, retry later"},
                {"Retry-After": _RETRY_AFTER_S},
            )
        else:
            self._reply(HTTPStatus.OK, {"status": "stored" if is_new else "duplicate"})

    def _check_authorized(self) -> None:
        if not self.server.receiver.auth.is_authorized(self.headers):
            raise _RejectedRequest(HTTPStatus.UNAUTHORIZED, "missing or wrong credentials")

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise _RejectedRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        if not length_header.strip().isdigit():
            raise _RejectedRequest(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        length = int(length_header)
        if length > self.server.receiver.max_body_bytes:
            limit = self.server.receiver.max_body_bytes
            raise _RejectedRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _RejectedRequest(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
        return body

    def _parse(self, body: bytes) -> Event:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _RejectedRequest(HTTPStatus.BAD_REQUEST, f"malformed JSON: {exc}") from None
        received_at = datetime.fromtimestamp(self.server.receiver.clock(), UTC)
        try:
            return parse_event(payload, received_at)
        except InvalidEvent as exc:
            raise _RejectedRequest(HTTPStatus.BAD_REQUEST, str(exc)) from None

    def _reject(self, rejection: _RejectedRequest) -> None:
        # The body may be unread, so the connection cannot carry another request.
        self.close_connection = True
        headers = {"Connection": "close"}
        if rejection.status == HTTPStatus.UNAUTHORIZED and isinstance(
            self.server.receiver.auth, BasicAuth
        ):
            headers["WWW-Authenticate"] = 'Basic realm="portabilling-webhook"'
        self._reply(rejection.status, {"error": rejection.reason}, headers)

    def _reply(
        self, status: HTTPStatus, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
