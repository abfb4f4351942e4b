"""Serving the webhook app with uvicorn on a background thread: `with EventReceiver(...) as rx`."""

import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from connector.events.app import DEFAULT_MAX_BODY_BYTES, WebhookApp
from connector.events.auth import Authenticator
from connector.events.connections import ConnectionLimits, protocol_with
from connector.events.store import EventStore
from connector.events.types import Routing

_BACKLOG = 2048
_GRACE_S = 5  # stop: in-flight commits take ms; idle TLS peers must not hold shutdown for 30 s


class EventReceiver:
    """The HTTP receiver; `rx.url` is the base (events at `/events`, health at `/health`).

    No concurrency limit answers 503: idle or slow peers are bounded by `limits` instead (a read
    deadline per request, keep-alive, and a connection cap that evicts idle connections first).
    uvicorn's `limit_max_requests` does not fit: it stops the server, and nothing restarts it.
    """

    def __init__(
        self,
        store: EventStore,
        auth: Authenticator,
        *,
        routing: Routing,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        tls: tuple[str, str] | None = None,
        limits: ConnectionLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = WebhookApp(
            store, auth, routing=routing, max_body_bytes=max_body_bytes, clock=clock
        )
        self.limits = limits or ConnectionLimits()
        self._address = (host, port)
        self._tls = tls  # (certificate chain PEM path, private key PEM path): serve HTTPS
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EventReceiver({self.app!r})"

    @property
    def url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the receiver is not started")
        host, port = self._socket.getsockname()[:2]
        scheme = "https" if self._tls else "http"
        return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"

    def start(self) -> "EventReceiver":
        """Listen now (connections queue in the backlog until uvicorn's loop accepts them)."""
        family = socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET
        self._socket = socket.create_server(self._address, family=family, backlog=_BACKLOG)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,  # log through the host's logging set-up; never reconfigure it
            access_log=False,
            log_level="warning",
            server_header=False,
            http=protocol_with(self.limits),
            ws="none",  # no upgrades: a connection stays under the limits' watch
            timeout_keep_alive=self.limits.keep_alive_s,
            timeout_graceful_shutdown=_GRACE_S,
            backlog=_BACKLOG,
            ssl_certfile=self._tls[0] if self._tls else None,
            ssl_keyfile=self._tls[1] if self._tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="event-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting; requests in flight finish (and commit) first."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> "EventReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
