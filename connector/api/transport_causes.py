"""Why a request got no answer, in the words a user searches for: the root cause, not a wrapper."""

import socket
import ssl
from collections.abc import Iterator

import requests
import urllib3

from connector.api.errors import EXCERPT_CHARS, redact

CA_BUNDLE_HINT = "set PORTABILLING_CA_BUNDLE to the CA bundle that signed the server's certificate"
# In this order of priority, over the whole chain: the operating system's cause first (urllib3's
# NewConnectionError is a ConnectTimeoutError even when the connection was refused).
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, f"TLS: certificate verify failed; {CA_BUNDLE_HINT}"),
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "name does not resolve"),
    (ConnectionResetError, "connection reset by the server"),
    (requests.ConnectTimeout, "connect timed out"),
    (requests.ReadTimeout, "read timed out"),
    (urllib3.exceptions.ReadTimeoutError, "read timed out"),
    (TimeoutError, "timed out"),
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: causes, contexts, urllib3's `reason` and exceptions in `args`."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        wrapped = [link.__cause__, link.__context__, getattr(link, "reason", None), *link.args]
        todo += [inner for inner in wrapped if isinstance(inner, BaseException)]


def transport_cause(exc: BaseException) -> str:
    """The root cause of a failed request (`connection refused`), else the innermost text."""
    chain = list(causes(exc))
    for kind, words in _CAUSES:
        if any(isinstance(link, kind) for link in chain):
            return words
    innermost = chain[-1]
    return f"{type(innermost).__name__}: {clip(redact(' '.join(str(innermost).split())))}"


def clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` within `limit` characters, cut at a space (not mid-word) and marked `...`."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit - 2)  # a space right after the kept part ends a word too
    return (text[:space] if space > limit // 2 else text[: limit - 3]) + "..."
