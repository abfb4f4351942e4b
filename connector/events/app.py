"""The webhook as an ASGI app: `POST /events` (durable before 200) and `GET /health`."""

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from connector.events.auth import REQUEST_TARGET, Authenticator, BasicAuth, body_matches_digest
from connector.events.body import decode_body
from connector.events.committer import GroupCommitter
from connector.events.store import EventStore
from connector.events.types import Event, InvalidEvent, Routing, parse_event

DEFAULT_MAX_BODY_BYTES = 64 * 1024
_RETRY_AFTER_S = b"5"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger(__name__)


class _Rejected(Exception):
    """Answer with `status` and `reason`, storing nothing."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Headers:
    """Case-insensitive view of a request's headers, with its `(request-target)` for signatures."""

    def __init__(self, scope: Scope) -> None:
        self._values = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        self._values[REQUEST_TARGET] = _request_target(scope)

    def get(self, name: str, /) -> str | None:
        return self._values.get(name.lower())


class WebhookApp:
    """Validates, authenticates and durably stores ESPF deliveries."""

    def __init__(
        self,
        store: EventStore,
        auth: Authenticator,
        *,
        routing: Routing,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.auth = auth
        self.routing = routing
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self._committer = GroupCommitter(store)

    def __repr__(self) -> str:
        return f"WebhookApp(store={self.store!r}, auth={self.auth!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        route = (scope["method"], scope["path"])
        if route == ("POST", "/events"):
            await self._post_event(scope, receive, send)
        elif route == ("GET", "/health"):
            await self._health(send)
        elif scope["path"] in ("/events", "/health"):
            await _reply(send, HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"})
        else:
            await _reply(send, HTTPStatus.NOT_FOUND, {"error": "not found"})

    async def _post_event(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            is_new = await self._accept(_Headers(scope), receive)
        except _Rejected as rejection:
            await _reply(
                send, rejection.status, {"error": rejection.reason}, self._challenge(rejection)
            )
        except sqlite3.Error as exc:
            logger.error("event not stored, asking the sender to retry: %s", exc)
            body = {"error": "event store unavailable, retry later"}
            await _reply(
                send, HTTPStatus.SERVICE_UNAVAILABLE, body, [(b"retry-after", _RETRY_AFTER_S)]
            )
        except Exception as exc:  # this event alone could not be stored: no traceback to anyone
            logger.error("event not stored: %s", type(exc).__name__)
            await _reply(send, HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "event not stored"})
        else:
            await _reply(send, HTTPStatus.OK, {"status": "stored" if is_new else "duplicate"})

    async def _accept(self, headers: _Headers, receive: Receive) -> bool:
        """Authenticate, read, check and store one delivery; False if a duplicate."""
        if not self.auth.is_authorized(headers):
            raise _Rejected(HTTPStatus.UNAUTHORIZED, "missing or wrong credentials")
        body = await self._read_body(headers, receive)
        if not body_matches_digest(headers.get("Digest"), body):
            raise _Rejected(HTTPStatus.UNAUTHORIZED, "body does not match its Digest header")
        return await self._committer.submit(self._parse(body))

    async def _read_body(self, headers: _Headers, receive: Receive) -> bytes:
        """The body, refused with 413 as soon as it is known to exceed the limit."""
        declared = headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Rejected(HTTPStatus.BAD_REQUEST, "client disconnected mid-body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _too_large(self) -> _Rejected:
        limit = self.max_body_bytes
        return _Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")

    def _parse(self, body: bytes) -> Event:
        try:
            return parse_event(decode_body(body), self._now(), self.routing)
        except InvalidEvent as exc:
            raise _Rejected(HTTPStatus.BAD_REQUEST, str(exc)) from None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _challenge(self, rejection: _Rejected) -> list[tuple[bytes, bytes]]:
        if rejection.status == HTTPStatus.UNAUTHORIZED and isinstance(self.auth, BasicAuth):
            return [(b"www-authenticate", b'Basic realm="portabilling-webhook"')]
        return []

    async def _health(self, send: Send) -> None:
        try:
            counts = await asyncio.to_thread(self.store.counts)
        except sqlite3.Error as exc:
            logger.error("health check: event store unavailable: %s", exc)
            await _reply(send, HTTPStatus.SERVICE_UNAVAILABLE, {"status": "unavailable"})
            return
        await _reply(send, HTTPStatus.OK, {"status": "ok", "events": counts})


def _request_target(scope: Scope) -> str:
    """`post /events?query`, as HTTP signatures spell the request line they cover."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    target = path + b"?" + query if query else path
    return f"{scope['method'].lower()} {target.decode('latin-1')}"


async def _reply(
    send: Send,
    status: HTTPStatus,
    payload: dict[str, Any],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + (extra_headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})
