"""A loopback HTTP server that answers each `Service/method` from a script, and records requests."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer; a dict body is sent as JSON."""

    status: int = 200
    body: dict[str, Any] | bytes = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    before: Callable[[], None] | None = None  # runs before answering (e.g. moves a fake clock)
    drip: Callable[[], None] | None = None  # the body goes byte by byte, this runs after each


def fault(code: str, text: str = "fault") -> Reply:
    """An API fault as PortaBilling sends it: HTTP 500 with faultcode / faultstring."""
    return Reply(500, {"faultcode": code, "faultstring": text})


@dataclass(frozen=True)
class Received:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Replies are consumed in order per `Service/method`; the last one repeats."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, name: str, *replies: Reply) -> None:
        """Answer `name` ("Service/method") with `replies`, one per request, repeating the last."""
        with self._lock:
            self._scripts[name] = list(replies)

    def count(self, name: str) -> int:
        """How many requests reached `name`."""
        with self._lock:
            return sum(1 for r in self.received if r.path == f"/rest/{name}")

    def next_reply(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            script = self._scripts.get(request.path.removeprefix("/rest/"))
            if not script:
                return fault("Server.unknown_method", "no such method")
            return script.pop(0) if len(script) > 1 else script[0]

    def start(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = server.next_reply(Received(self.path, dict(self.headers), body))
            if reply.before is not None:
                reply.before()
            payload = (
                reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            )
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reply.drip is None:
                self.wfile.write(payload)
            else:
                self._drip(payload, reply.drip)

        def _drip(self, payload: bytes, after_each: Callable[[], None]) -> None:
            try:
                for byte in payload:
                    self.wfile.write(bytes([byte]))
                    after_each()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """A started ScriptedServer, stopped on exit."""
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
