"""The exception tree, ordered by what the caller should do next; the response → error mapping."""

import re
from typing import Any

# The session is no longer accepted: refresh or log in again, then retry the call once.
SESSION_FAULTS = frozenset(
    {
        "Server.Session.check_auth.auth_failed",
        "Client.Session.check_auth.failed_to_process_access_token",
        "Client.Session.check_auth.failed_to_process_jwt",
        "Client.check_auth.envelope_missed",
    }
)
REFRESH_REFUSED = "Server.Session.refresh_access_token.refresh_failed"
# Retrying these only feeds the server's brute-force lock: they are final.
CREDENTIAL_FAULTS = frozenset(
    {
        "Server.Session.auth_failed",
        "Server.Session.cannot_login_brute_force_activity",
        "Server.Session.alert_You_must_change_password",
        REFRESH_REFUSED,
    }
)
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
EXCERPT_CHARS = 200

_MASK = "***"
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
_SECRET_FIELD = re.compile(
    r"""(?ix)
    ((?:password|passwd|token|session_id|sessionid|secret|authorization)["']?\s*[:=]\s*["']?)
    (?:bearer\s+)?[^"'\s&,;}<]+
    """
)
_LONG_RUN = re.compile(r"[\w+/-]{24,}={0,2}")


def _mask_opaque(match: re.Match[str]) -> str:
    # Session ids and opaque tokens mix letters and digits; long identifiers and words do not.
    run = match.group()
    is_opaque = any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
    return _MASK if is_opaque else run


def redact(text: str) -> str:
    """Mask anything in `text` that looks like a JWT, a token, a session id or a password value."""
    text = _JWT.sub(_MASK, text)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + _MASK, text)
    return _LONG_RUN.sub(_mask_opaque, text)


def excerpt(body: bytes | str) -> str:
    """A short, single-line, redacted excerpt of a response body for error messages."""
    head = body[: EXCERPT_CHARS * 4]  # redact a bounded prefix: bodies can be megabytes
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    return redact(" ".join(text.split()))[:EXCERPT_CHARS]


class PortaBillingError(Exception):
    """Root of every error the client raises; carries the API's fault details where it sent any."""

    def __init__(
        self,
        message: str,
        *,
        faultcode: str | None = None,
        faultstring: str | None = None,
        service: str | None = None,
        method: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.service = service
        self.method = method
        self.http_status = http_status

    def _context(self) -> dict[str, Any]:
        return {
            "faultcode": self.faultcode,
            "faultstring": self.faultstring,
            "service": self.service,
            "method": self.method,
            "http_status": self.http_status,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Default pickling drops keyword-only context (Dagster ships errors across processes).
        return (_rebuild, (type(self), self.message, self._context()))

    def __str__(self) -> str:
        where = f"{self.service}/{self.method}: " if self.service else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        return f"{where}{self.message}{status}"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._context().items() if v is not None)
        return f"{type(self).__name__}({self.message!r}{', ' if fields else ''}{fields})"


def _rebuild(
    cls: type[PortaBillingError], message: str, context: dict[str, Any]
) -> PortaBillingError:
    return cls(message, **context)


class ConfigurationError(PortaBillingError, ValueError):
    """The client was configured wrongly: fix the named field; nothing was sent."""


class AuthenticationError(PortaBillingError):
    """Credentials or tokens were refused (wrong password, lockout, must change password): final."""


class SessionRejectedError(AuthenticationError):
    """The server dropped the session; the client re-authenticates and retries once by itself."""


class TransientError(PortaBillingError):
    """Connection trouble, timeouts, 502/503/504 or 429: retried up to the limits, then gave up."""

    retry_after: float | None = None  # seconds the server asked to wait (Retry-After), if it said


class FaultError(PortaBillingError):
    """The API answered with a fault about the request (bad params, missing rights): final."""


class ProtocolError(PortaBillingError):
    """The answer is not the API's JSON (proxy page, wrong URL, unexpected shape): final."""


def _fault_class(faultcode: str) -> type[PortaBillingError]:
    if faultcode in SESSION_FAULTS:
        return SessionRejectedError
    if faultcode in CREDENTIAL_FAULTS:
        return AuthenticationError
    return FaultError


def error_for_response(
    http_status: int, payload: Any, body: bytes, *, service: str, method: str
) -> PortaBillingError:
    """Map a response that is not a successful API answer to the exception the caller should get.

    `payload` is the decoded JSON body, or None when the body is not JSON.
    """
    where: dict[str, Any] = {"service": service, "method": method, "http_status": http_status}
    if isinstance(payload, dict) and payload.get("faultcode"):
        code = str(payload["faultcode"])
        text = redact(str(payload.get("faultstring") or ""))
        return _fault_class(code)(f"{code}: {text}", faultcode=code, faultstring=text, **where)
    if http_status in TRANSIENT_STATUSES:
        return TransientError(f"server unavailable: {excerpt(body)!r}", **where)
    if http_status in (401, 403):
        return AuthenticationError(f"access refused: {excerpt(body)!r}", **where)
    if payload is None:
        return ProtocolError(f"response is not JSON: {excerpt(body)!r}", **where)
    return ProtocolError(f"unexpected response: {excerpt(body)!r}", **where)
