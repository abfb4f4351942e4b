"""One attempt's wall-clock deadline: connect, headers and the whole body within a time limit.

A read timeout bounds each wait for bytes, so a server sending one byte per second never trips
it. The deadline bounds the attempt as a whole without a thread: every socket wait is cut to the
time left, and the body is read in chunks with the clock checked between them. The status line
and headers are read by `http.client` in one go: there each wait is cut, not their sum, so
headers that themselves drip are noticed only once they are complete.
"""

from collections.abc import Callable

import requests
import urllib3

# Up to this much per read: one recv of what has arrived (a 1,000-row page is ~0.8 MB).
CHUNK_BYTES = 1 << 20
TIMEOUTS = (requests.Timeout, urllib3.exceptions.TimeoutError)


class DeadlineExceeded(Exception):
    """The attempt had no complete answer when its deadline came."""


class AttemptDeadline:
    """The instant, on the client's clock, by which one attempt must have its whole answer."""

    def __init__(
        self, seconds: float, clock: Callable[[], float], not_after: float | None = None
    ) -> None:
        now = clock()
        self.ends = now + seconds if not_after is None else min(now + seconds, not_after)
        self.seconds = self.ends - now
        self._clock = clock
        # Whether the last connect / read wait was cut to the time left: a timeout then means
        # the deadline came, not that the server was silent for a whole read timeout.
        self._connect_cut = self._read_cut = False

    def bound_pair(self, timeout: float | tuple[float, float]) -> tuple[float, float]:
        """The (connect, read) timeouts of a request, each cut to the time left."""
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        left = self._left()
        self._connect_cut, self._read_cut = left < connect, left < read
        return min(connect, left), min(read, left)

    def bound(self, read_timeout: float) -> float:
        """The next read's timeout, cut to the time left."""
        left = self._left()
        self._read_cut = left < read_timeout
        return min(read_timeout, left)

    def has_expired(self, exc: BaseException) -> bool:
        """Whether `exc` ended the attempt because its deadline came, not a per-read timeout."""
        if isinstance(exc, requests.ConnectTimeout):
            return self._connect_cut
        return isinstance(exc, DeadlineExceeded) or (isinstance(exc, TIMEOUTS) and self._read_cut)

    def describe(self) -> str:
        """What went wrong, naming the limit (e.g. `no complete answer within 60 s`)."""
        return f"no complete answer within {self.seconds:g} s"

    def _left(self) -> float:
        left = self.ends - self._clock()
        if left <= 0:
            raise DeadlineExceeded
        return left


def read_body(response: requests.Response, deadline: AttemptDeadline, read_timeout: float) -> bytes:
    """The whole body, read within `deadline`, then the connection back to the pool.

    Each chunk is one read of what has arrived; `response.content`'s 10 KB chunks cost ~7 ms more
    CPU per 800 KB page. A failed read drops the connection instead of pooling it.
    """
    raw = response.raw
    # urllib3 copies decoded bytes through a buffer of its own: decode only what is encoded.
    decode = "Content-Encoding" in response.headers
    chunks: list[bytes] = []
    try:
        while not raw.closed and (chunk := _read_chunk(raw, deadline, read_timeout, decode)):
            chunks.append(chunk)
    except BaseException:
        raw.close()
        raise
    raw.release_conn()
    return b"".join(chunks)


def _read_chunk(
    raw: urllib3.BaseHTTPResponse, deadline: AttemptDeadline, read_timeout: float, decode: bool
) -> bytes:
    limit = deadline.bound(read_timeout)
    connection = raw.connection
    if isinstance(connection, urllib3.connection.HTTPConnection) and connection.sock is not None:
        connection.sock.settimeout(limit)
    return raw.read1(CHUNK_BYTES, decode_content=decode)
