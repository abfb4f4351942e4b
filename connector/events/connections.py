"""Connection hygiene for the receiver: a deadline to send each request, a cap that evicts."""

import asyncio
import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]

_activity = itertools.count()  # orders connections by their last activity, without clock ties


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a peer may take to send a request or stay idle, and how many may be connected."""

    read_timeout_s: float = 5.0  # headers and body of one request, from its first byte
    keep_alive_s: int = 30  # idle between requests: ESPF posts ~10/s and keeps its connection
    max_connections: int = 1000


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a read deadline and a connection cap that evicts.

    A request must arrive whole, headers and body, within `read_timeout_s` of its first byte (of
    the connection opening, for the first one); between requests uvicorn's keep-alive timeout
    applies. A connection beyond `max_connections` closes one with no request in progress: first
    those never answered 2xx to a POST (idle or unauthenticated peers), each group longest idle
    first. Only when every connection has a request in progress is the new one closed instead.
    """

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None
        self._last_active = next(_activity)
        self._is_trusted = False  # a POST was answered 2xx: the peer holds credentials
        self._serve = self.app
        self.app = self._serve_watched

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()
        self._enforce_cap()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_active = next(_activity)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_deadline()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm_read_deadline()

    def _arm_read_deadline(self) -> None:
        """Start the clock for the request being read (kept if already running)."""
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.limits.read_timeout_s, self._close)

    def _disarm_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    @property
    def _is_evictable(self) -> bool:
        """Open, with no request being served (a request still being read does not count)."""
        is_serving = self.cycle is not None and not self.cycle.response_complete
        return not is_serving and not self.transport.is_closing()

    def _enforce_cap(self) -> None:
        """Over the cap, close the connection that least deserves its place."""
        if len(self.connections) <= self.limits.max_connections:
            return
        peers = [c for c in self.connections if isinstance(c, GuardedHttpProtocol)]
        if sum(not c.transport.is_closing() for c in peers) <= self.limits.max_connections:
            return
        idle = [c for c in peers if c is not self and c._is_evictable]
        victim = min(idle, key=lambda c: (c._is_trusted, c._last_active), default=self)
        victim._close()

    async def _serve_watched(self, scope: _Message, receive: Any, send: _Send) -> None:
        """Serve the request, noting whether it proves the peer holds credentials."""

        async def watched(message: _Message) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                self._is_trusted = self._is_trusted or 200 <= message["status"] < 300
            await send(message)

        await self._serve(scope, receive, watched)


def protocol_with(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's `http=` option, bound to `limits`."""

    class Bound(GuardedHttpProtocol):
        pass

    Bound.limits = limits
    return Bound
