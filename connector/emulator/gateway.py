"""One HTTP request in, one response out: decoding, injected faults and latency, fault mapping."""

import json
import random
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from connector.emulator import faults
from connector.emulator.api import Api, Credentials
from connector.emulator.config import EmulatorConfig
from connector.emulator.counters import Counters
from connector.emulator.faults import Fault
from connector.emulator.params import Params
from connector.emulator.records import Json, to_json

_PROXY_PAGE = (
    "<html><head><title>{0}</title></head>"
    "<body><center><h1>{0}</h1></center><hr><center>nginx</center></body></html>"
)
_TRANSIENT = (
    (502, "502 Bad Gateway"),
    (503, "503 Service Temporarily Unavailable"),
    (504, "504 Gateway Time-out"),
)


@dataclass
class Request:
    """What the HTTP layer read."""

    verb: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    peer: str = ""


@dataclass
class Response:
    """What the HTTP layer writes."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def fault_response(status: int, faultcode: str, faultstring: str) -> Response:
    """A JSON fault body with the given HTTP status."""
    body = json.dumps({"faultcode": faultcode, "faultstring": faultstring}).encode()
    return Response(status, body)


def encode(answer: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; record bytes (`Json`) are spliced in as they are, not re-encoded."""
    members = (to_json(name) + b":" + _encode_value(value) for name, value in answer.items())
    return b"{" + b",".join(members) + b"}"


def _encode_value(value: Any) -> bytes:
    if isinstance(value, Json):
        return value
    if isinstance(value, list) and all(isinstance(item, Json) for item in value):
        return b"[" + b",".join(value) + b"]"
    return to_json(value)


class Gateway:
    """Applies the live fault knobs around the API and maps everything to a Response."""

    def __init__(
        self,
        api: Api,
        config: EmulatorConfig,
        counters: Counters,
        clock: Callable[[], float],
        rng: random.Random,
        sleep: Callable[[float], None],
    ) -> None:
        self._api = api
        self._config = config
        self._counters = counters
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window = -1
        self._window_count = 0
        self._retry_after_until: dict[str, float] = {}

    def handle(self, request: Request) -> Response:
        """Serve one request; never raises."""
        self._counters.enter()
        try:
            return self._serve(request)
        except Exception:  # the emulator must answer, never drop the connection with a traceback
            self._counters.add("faults")
            return fault_response(500, "Server.internal_error", "Internal error in the emulator")
        finally:
            self._counters.leave()

    def _serve(self, request: Request) -> Response:
        if request.verb != "POST":
            return fault_response(
                405, faults.MALFORMED, "Only POST /rest/<Service>/<method> is served"
            )
        name = _method_name(request.path)
        if name is None:
            return fault_response(
                404, faults.UNKNOWN_METHOD, "Path must be /rest/<Service>/<method>"
            )
        self._counters.count_request(name)
        if self._config.latency_s:
            self._sleep(self._config.latency_s)
        if self._rng.random() < self._config.transient_error_rate:
            return self._transient()
        try:
            params, credentials = decode(request, modern=self._config.profile.accepts_json)
            throttled = self._throttle(f"{credentials.identity} via {request.peer}")
            if throttled is not None:
                return throttled
            return Response(200, encode(self._api.call(name, params, credentials)))
        except Fault as fault:
            self._counters.add("faults")
            return fault_response(500, fault.faultcode, fault.faultstring)

    def _transient(self) -> Response:
        self._counters.add("transient_errors")
        status, title = self._rng.choice(_TRANSIENT)
        return Response(status, _PROXY_PAGE.format(title).encode(), "text/html")

    def _throttle(self, sender: str) -> Response | None:
        """429 once the current 1-s window of the clock has seen `rate_limit_rps` requests.

        A request counts as ignoring a Retry-After only when the same session sends it on the
        same connection that got the 429: a request another thread had already sent, or sent
        while its own client was still receiving the 429, is not a client bug.
        """
        now = self._clock()
        retry_after = self._config.retry_after_s
        with self._lock:
            if self._retry_after_until.get(sender, 0.0) > now:
                self._counters.add("retry_after_ignored")
            limit = self._config.rate_limit_rps
            if limit is None:
                return None
            if int(now) != self._window:
                self._window, self._window_count = int(now), 0
            if self._window_count >= limit:
                self._retry_after_until[sender] = now + retry_after
                self._counters.add("throttled")
                body = _PROXY_PAGE.format("429 Too Many Requests").encode()
                return Response(429, body, "text/html", {"Retry-After": str(retry_after)})
            self._window_count += 1
        return None


def _method_name(path: str) -> str | None:
    parts = urllib.parse.urlsplit(path).path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "rest" or not parts[1] or not parts[2]:
        return None
    return f"{parts[1]}/{parts[2]}"


def decode(request: Request, *, modern: bool = True) -> tuple[Params, Credentials]:
    """Params and credentials from a JSON, form-encoded or multipart body.

    A release before MR101 (`modern=False`) takes only the form styles and ignores Bearer headers.
    """
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    bearer = _bearer(request.headers.get("Authorization", "")) if modern else None
    if content_type == "application/json" and not modern:
        raise Fault(faults.MALFORMED, "Content-Type must be form-urlencoded or multipart")
    if content_type == "application/json":
        envelope = _json_object(request.body or b"{}", "body")
        params, auth_info = envelope.get("params", {}), envelope.get("auth_info")
    elif content_type == "application/x-www-form-urlencoded":
        form = _form_fields(request.body)
        params, auth_info = _form_json(form, "params", {}), _form_json(form, "auth_info", None)
    elif content_type == "multipart/form-data":
        form = _multipart_fields(request)
        params, auth_info = _form_json(form, "params", {}), _form_json(form, "auth_info", None)
    else:
        raise Fault(
            faults.MALFORMED, "Content-Type must be application/json, form-urlencoded or multipart"
        )
    if not isinstance(params, dict):
        raise Fault(faults.MALFORMED, "params must be a JSON object")
    if auth_info is not None and not isinstance(auth_info, dict):
        raise Fault(faults.MALFORMED, "auth_info must be a JSON object")
    return params, Credentials(bearer=bearer, auth_info=auth_info)


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json_object(data: bytes | str, what: str) -> Any:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Fault(faults.MALFORMED, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Fault(faults.MALFORMED, f"{what} must be a JSON object")
    return value


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)
        )
    except (ValueError, UnicodeDecodeError):
        raise Fault(faults.MALFORMED, "form body cannot be decoded") from None
    return dict(pairs)


def _multipart_fields(request: Request) -> dict[str, str]:
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise Fault(faults.MALFORMED, "multipart body cannot be decoded")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", errors="replace")
    return fields


def _form_json(form: dict[str, str], name: str, default: Any) -> Any:
    if name not in form:
        return default
    try:
        return json.loads(form[name])
    except ValueError:
        raise Fault(faults.MALFORMED, f"{name} is not valid JSON") from None
