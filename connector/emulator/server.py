"""The HTTP/1.1 keep-alive server: reads requests, hands them to the gateway, writes answers."""

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from connector.emulator import faults
from connector.emulator.gateway import Gateway, Request, Response, fault_response

IDLE_TIMEOUT_S = 30.0


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Thread per connection; remembers open connections so `close` can cut them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], gateway: Gateway, max_body: int, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(address, _Handler)
        self.gateway = gateway
        self.max_body = max_body
        self._tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs on the connection's own thread, so a slow TLS handshake blocks nobody else."""
        request.settimeout(IDLE_TIMEOUT_S)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(request)
        try:
            if self._tls is not None:
                request = self._tls.wrap_socket(request, server_side=True)
            super().finish_request(request, client_address)
        except (OSError, ssl.SSLError):
            pass  # a client that hangs up or fails the handshake is not our error
        finally:
            with self._open_lock:
                self._open.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection-level errors are the client's business; stay quiet."""

    def close(self) -> None:
        """Stop serving and cut keep-alive connections still open."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer
    server_version = "PortaBillingEmulator/1.0"
    sys_version = ""

    def do_POST(self) -> None:
        length = self._content_length()
        if length is None:
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        request = Request("POST", self.path, dict(self.headers.items()), body, peer)
        self._write(self.server.gateway.handle(request))

    def _content_length(self) -> int | None:
        """The declared body length, or None after refusing the request and hanging up."""
        problem = self._length_problem()
        if problem is not None:
            self.close_connection = True
            self._write(fault_response(problem[0], faults.MALFORMED, problem[1]))
            return None
        return int(self.headers.get("Content-Length", "0"))

    def _length_problem(self) -> tuple[int, str] | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            chunked = self.headers.get("Transfer-Encoding") is not None
            return (411, "Content-Length is required") if chunked else None
        if not raw.strip().isdigit():
            return 400, "Content-Length is not a number"
        if int(raw) > self.server.max_body:
            return 413, f"body larger than {self.server.max_body} bytes"
        return None

    def _other_verb(self) -> None:
        self.close_connection = True
        request = Request(self.command, self.path, dict(self.headers.items()), b"", "")
        self._write(self.server.gateway.handle(request))

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other_verb

    def _write(self, response: Response) -> None:
        """Status line, headers and body in one write: no Nagle / delayed-ACK stall between them."""
        phrase = self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, huge headers) answer JSON, not an HTML page."""
        self.close_connection = True
        self._write(fault_response(code, faults.MALFORMED, message or "Bad request"))

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: request lines could carry tokens in query strings."""
