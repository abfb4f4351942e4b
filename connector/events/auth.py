"""How the receiver checks ESPF's `Authorization` header: Basic, Custom or Signature."""

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol

SCHEMES = ("basic", "custom", "signature")
DEFAULT_MAX_CLOCK_SKEW_S = 300.0
REQUEST_TARGET = "(request-target)"  # the pseudo-header a signature may cover: `post /events`
_SIGNATURE_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_DIGESTS = {"sha-256": "sha256", "sha-512": "sha512"}  # `Digest` algorithms we can check


class WebhookConfigError(ValueError):
    """The receiver's configuration is incomplete or wrong (names the variable, never its value)."""


class Headers(Protocol):
    """Case-insensitive request headers, and `(request-target)` (a dict in unit use)."""

    def get(self, name: str, /) -> str | None: ...


class Authenticator(Protocol):
    """Decides whether a request's headers carry the configured credentials."""

    def is_authorized(self, headers: Headers) -> bool: ...


def _same(given: bytes, expected: bytes) -> bool:
    """Constant-time equality that does not even leak the length (both sides are hashed first)."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


def _split_authorization(headers: Headers) -> tuple[str, str]:
    """`(scheme, credentials)` of the Authorization header; empty strings when it is absent."""
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    return scheme, credentials.strip()


class BasicAuth:
    """`Authorization: Basic base64(user:password)`."""

    def __init__(self, user: str, password: str) -> None:
        self._expected = f"{user}:{password}".encode()

    def __repr__(self) -> str:
        return "BasicAuth(***)"

    def is_authorized(self, headers: Headers) -> bool:
        scheme, credentials = _split_authorization(headers)
        try:
            given = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        return scheme.lower() == "basic" and _same(given, self._expected)


class CustomAuth:
    """ESPF's Custom scheme: `Authorization: <Type> <credential>`."""

    def __init__(self, auth_type: str, credential: str) -> None:
        self._type = auth_type.lower()
        self._expected = credential.encode()

    def __repr__(self) -> str:
        return f"CustomAuth({self._type!r}, ***)"

    def is_authorized(self, headers: Headers) -> bool:
        scheme, credentials = _split_authorization(headers)
        return scheme.lower() == self._type and _same(credentials.encode(), self._expected)


class SignatureAuth:
    """ESPF's Signature scheme: base64 HMAC-SHA1 over `date: <Date>`, with a bound on clock skew.

    The skew bound is the replay protection: a captured request stops being accepted once its
    `Date` is more than `max_clock_skew_s` away from our clock (duplicates are then absorbed by
    the `i_event` de-duplication). ESPF signs only `Date`, so the body is not authenticated; a
    signature whose `headers="..."` names more (`date digest`, `(request-target)`) covers those
    headers too, in the order listed, as HTTP message signatures (draft-cavage) spell them.
    """

    def __init__(
        self,
        key_id: str,
        key: str,
        *,
        max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key_id = key_id.encode()
        self._key = key.encode()
        self._max_skew = max_clock_skew_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"SignatureAuth(max_clock_skew_s={self._max_skew})"

    def sign(self, date: str) -> str:
        """The signature ESPF sends for a `Date` header value."""
        return self._sign(f"date: {date}")

    def _sign(self, signing_string: str) -> str:
        digest = hmac.new(self._key, signing_string.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def is_authorized(self, headers: Headers) -> bool:
        scheme, credentials = _split_authorization(headers)
        params = dict(_SIGNATURE_PARAM.findall(credentials))
        signed = params.get("headers", "date").lower().split()
        signing_string = _signing_string(headers, signed)
        if signing_string is None or "date" not in signed:  # the skew bound needs a signed Date
            return False
        return (
            scheme.lower() == "signature"
            and params.get("algorithm", "").lower() == "hmac-sha1"
            and self._is_recent(headers.get("Date") or "")
            and _same(params.get("keyId", "").encode(), self._key_id)
            and _same(params.get("signature", "").encode(), self._sign(signing_string).encode())
        )

    def _is_recent(self, date: str) -> bool:
        try:
            sent = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return abs(self._clock() - sent) <= self._max_skew


def _signing_string(headers: Headers, names: list[str]) -> str | None:
    """`name: value` lines of the signed headers, in the order signed; None if one is missing."""
    values = [headers.get(name) for name in names]
    if any(value is None for value in values):
        return None
    return "\n".join(f"{name}: {value}" for name, value in zip(names, values, strict=True))


def body_matches_digest(digest_header: str | None, body: bytes) -> bool:
    """True without a `Digest` header; else it must carry SHA-256 or SHA-512 and all must match."""
    if digest_header is None:
        return True
    checked = [
        _digest_matches(_DIGESTS[algorithm.strip().lower()], value.strip(), body)
        for algorithm, _, value in (item.partition("=") for item in digest_header.split(","))
        if algorithm.strip().lower() in _DIGESTS
    ]
    return bool(checked) and all(checked)


def _digest_matches(hash_name: str, encoded: str, body: bytes) -> bool:
    expected = base64.b64encode(hashlib.new(hash_name, body).digest())
    return _same(encoded.encode(), expected)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name)
    if not value:
        raise WebhookConfigError(f"environment variable {name} is not set")
    return value


def authenticator_from_env(
    scheme: str,
    environ: Mapping[str, str],
    *,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
    clock: Callable[[], float] = time.time,
) -> Authenticator:
    """Build the scheme's authenticator from `PORTABILLING_WEBHOOK_*` variables."""
    if scheme == "basic":
        return BasicAuth(
            _required(environ, "PORTABILLING_WEBHOOK_USER"),
            _required(environ, "PORTABILLING_WEBHOOK_PASSWORD"),
        )
    if scheme == "custom":
        return CustomAuth(
            _required(environ, "PORTABILLING_WEBHOOK_CUSTOM_TYPE"),
            _required(environ, "PORTABILLING_WEBHOOK_CUSTOM_CREDENTIAL"),
        )
    if scheme == "signature":
        return SignatureAuth(
            _required(environ, "PORTABILLING_WEBHOOK_SIGNATURE_KEY_ID"),
            _required(environ, "PORTABILLING_WEBHOOK_SIGNATURE_KEY"),
            max_clock_skew_s=max_clock_skew_s,
            clock=clock,
        )
    raise WebhookConfigError(f"unknown auth scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
