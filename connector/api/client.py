"""PortaBillingClient: the transport — requests, retries with backoff, throttling, fault mapping."""

import contextlib
import dataclasses
import functools
import json
import logging
import math
import random
import re
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypeVar

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from connector.api import options
from connector.api.auth import (
    TOKEN_LIFETIME,
    SessionManager,
    SharedSession,
    Token,
    lifetime_in,
)
from connector.api.deadline import AttemptDeadline, DeadlineExceeded, read_body
from connector.api.errors import (
    ConfigurationError,
    PortaBillingError,
    ProtocolError,
    SessionRejectedError,
    TransientError,
    error_for_response,
    excerpt,
)
from connector.api.options import Timeout
from connector.api.settings import DEFAULTS, ClientSettings
from connector.api.transport_causes import CA_BUNDLE_HINT, transport_cause

logger = logging.getLogger(__name__)

Answer = dict[str, Any]
Decoder = Callable[[], Answer]
T = TypeVar("T")
# Turns one HTTP response (status 200 or not) into what a call returns, or raises.
Finish = Callable[[requests.Response, bytes, str, str], T]
# Held around each HTTP request: a bound on requests in flight shared with other processes.
RequestSlot = Callable[[], contextlib.AbstractContextManager[object]]
# Each rejected session is recovered with one re-authentication and one retry of the call. A call
# gives up after this many losses in a row (a server that rejects every new session); a transient
# retry in between starts the count again, since a backoff can outlive a token.
MAX_SESSION_RECOVERIES = 3
# Without max_retries the retry budget ends the retries; this many per backoff cap's worth of it
# (twice what full-jitter backoff spends on average) only keeps a server that asks for no delay
# (Retry-After: 0) from being called in a tight loop.
RETRIES_PER_BACKOFF_CAP = 4
_RETRIED_EXCEPTIONS = (
    DeadlineExceeded,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,  # the body is read from urllib3 directly (see read_body)
)


@dataclasses.dataclass(frozen=True)
class ClientStats:
    """What the client did so far: HTTP requests, retries, 429s, refreshes, logins, bytes read.

    `requests` counts every HTTP request sent: logins, refreshes, retries and the one question
    about the token lifetime after the first login included.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    refreshes: int = 0
    logins: int = 0
    bytes_received: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (e.g. for asset metadata)."""
        return dataclasses.asdict(self)


class _Counters:
    """Thread-safe transport counters; logins and refreshes are counted by the session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self.bytes_received = 0

    def response(self, size: int, throttled: bool) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_received += size
            self.throttled += throttled

    def no_response(self) -> None:
        with self._lock:
            self.requests += 1

    def retry(self) -> None:
        with self._lock:
            self.retries += 1


def environment_settings(url: str, verify: bool | str) -> tuple[bool | str, dict[str, str]]:
    """`verify` and the proxies for `url` as `requests` reads them from the environment.

    HTTP(S)_PROXY and NO_PROXY choose the proxies; `verify=True` becomes REQUESTS_CA_BUNDLE (or
    CURL_CA_BUNDLE) when set, while an explicit bundle path or False is kept.
    """
    with requests.Session() as environment:
        settings = environment.merge_environment_settings(url, {}, True, verify, None)
    chosen = settings["verify"]
    return (verify if chosen is None else chosen), dict(settings["proxies"])


def parse_json(body: bytes) -> Any:
    """The decoded body, or None if it is not JSON (orjson: twice as fast on 1,000-row pages)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)  # integers beyond 64 bits, which orjson refuses
    except ValueError:
        return None


def _decode_kept(body: bytes, service: str, method: str) -> Answer:
    """A kept HTTP 200 body, decoded; a body that is not a JSON answer raises the mapped error."""
    payload = parse_json(body)
    if isinstance(payload, dict) and not payload.get("faultcode"):
        return payload
    raise error_for_response(200, payload, body, service=service, method=method)


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (0-based).

    The server's Retry-After when it sent one, else exponential backoff with full jitter, capped.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    return rand() * min(cap, base * 2**attempt)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header (delta-seconds or HTTP date) asks for; None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _tls_failure(exc: Exception) -> str:
    """What failed in the TLS handshake, naming PORTABILLING_CA_BUNDLE where it is the fix."""
    cause = transport_cause(exc)
    if cause.startswith("TLS:"):
        return cause
    found = re.search(r"\[SSL[^\]]*\][^'\"(]*", str(exc))
    reason = excerpt(found.group().strip() if found else type(exc).__name__)
    return f"TLS: {reason}; {CA_BUNDLE_HINT}"


class PortaBillingClient:
    """A thread-safe client of the PortaBilling JSON API.

    `call()` logs in lazily, refreshes the token before it expires, re-authenticates once when the
    server drops the session, retries transport trouble (connection errors, timeouts, 502/503/504,
    429) with capped exponential backoff and full jitter within the retry budget, and
    maps everything else to a `PortaBillingError` subclass. A `Retry-After` pauses every thread.

    `legacy=True` speaks the pre-MR101 protocol: form fields `params` and `auth_info`, each a JSON
    string, with `auth_info={"session_id": ...}`. The login itself is `Session/login` with `params`
    `{"login", "password"|"token"}` in both modes, which every release accepts; with `realm` it is
    `Session/login_to_realm`. After the first login a JSON-mode client asks
    `Session/get_access_token_lifetime` once (a fault means "unknown").

    Args:
        verify: True (system CAs), a CA-bundle path, or False (warns once).
        timeout: seconds to connect and to read, or a `(connect, read)` pair; replaces
            `settings.timeout_s`.
        settings: timeouts, deadlines, retries, concurrency and the refresh margin (its
            `max_concurrency` is also the pool size).
        realm: log in to this realm (`admin`, `reseller`, `customer`, `account`); None: `login`.
        public_key: the server's RS256 public key (PEM); tokens failing it are refused.
        clock: epoch seconds, and `sleep`, injectable so tests never wait.
        log: where each retry is logged (attempt, cause, next delay); a run passes its logger.
        token_cache: share the session with other processes (`connector.api.token_cache`); the
            shared session is then logged out only by `close(end_shared_session=True)`.
        request_slot: held around each request, e.g. `connector.api.limits.ServerSlots.hold`.
    """

    def __init__(
        self,
        url: str,
        *,
        login: str,
        password: str | None = None,
        api_token: str | None = None,
        verify: bool | str = True,
        timeout: Timeout | None = None,
        settings: ClientSettings = DEFAULTS,
        legacy: bool = False,
        realm: str | None = None,
        public_key: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        token_cache: SharedSession | None = None,
        request_slot: RequestSlot | None = None,
        log: logging.Logger = logger,
    ) -> None:
        self.url = options.base_url(url)
        password, api_token = password or None, api_token or None  # an empty env var is unset
        options.check_credentials(login, password, api_token)
        if timeout is not None:
            settings = dataclasses.replace(settings, timeout_s=timeout)
        options.check_realm(realm)
        options.check_verify(verify)
        options.check_public_key(public_key)
        self.login = login
        self.settings = settings
        self._legacy = legacy
        self._timeout = settings.timeout_s
        self._read_timeout = (
            settings.timeout_s[1] if isinstance(settings.timeout_s, tuple) else settings.timeout_s
        )
        self._attempt_deadline = settings.attempt_deadline_s
        self._verify, self._proxies = environment_settings(self.url, verify)
        self._headers = {**requests.utils.default_headers(), "Accept": "application/json"}
        self._max_retries = (
            settings.max_retries
            if settings.max_retries is not None
            else math.ceil(
                RETRIES_PER_BACKOFF_CAP * settings.retry_budget_s / settings.backoff_cap_s
            )
        )
        self._retry_deadline = settings.retry_budget_s
        self._backoff_base = settings.backoff_base_s
        self._backoff_cap = settings.backoff_cap_s
        self._clock = clock
        self._sleep = sleep
        self._log = log  # retries and session recoveries: a run passes its own logger
        self._counters = _Counters()
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._request_slot: RequestSlot = request_slot or contextlib.nullcontext
        self._gate_lock = threading.Lock()
        self._not_before = 0.0  # no request of this client leaves before this instant (Retry-After)
        self._closed = False
        self._http = self._build_http(verify, settings.max_concurrency)
        self._session = SessionManager(
            self._call_session,
            login=login,
            password=password,
            api_token=api_token,
            refresh_margin=settings.refresh_margin_s,
            public_key=public_key,
            clock=clock,
            shared=token_cache,
            realm=realm,
            lifetime=None if legacy else self._token_lifetime,
        )

    def __repr__(self) -> str:
        return f"PortaBillingClient(url={self.url!r}, login={self.login!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client's counters."""
        c = self._counters
        return ClientStats(
            requests=c.requests,
            retries=c.retries,
            throttled=c.throttled,
            refreshes=self._session.refreshes,
            logins=self._session.logins,
            bytes_received=c.bytes_received,
        )

    def call(
        self, service: str, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call `Service/method` with `params` and return the decoded JSON answer."""
        return self._call(service, method, params, self._decode)

    def send(self, service: str, method: str, params: dict[str, Any] | None = None) -> Decoder:
        """`call` whose successful answer is decoded only when the returned function is called.

        Retries, faults and session renewal happen here, as in `call`; only an HTTP 200 body is
        kept as text. A look-ahead of pages then holds ~0.8 MB of JSON a 1,000-row page instead
        of ~3.2 MB of Python objects, and the reader decodes each page right before using it.
        A 200 body that is not a JSON answer raises when decoded.
        """
        return self._call(service, method, params, self._decode_later)

    def _call(
        self,
        service: str,
        method: str,
        params: dict[str, Any] | None,
        finish: "Finish[T]",
    ) -> T:
        if self._closed:
            raise PortaBillingError("client is closed", service=service, method=method)
        token = self._session.current()
        return self._request(
            service, method, params or {}, token, renew=self._session.renew, finish=finish
        )

    def close(self, *, end_shared_session: bool = False) -> None:
        """Log the session out and release the connections; the client cannot be used afterwards.

        A session shared through `token_cache` is logged out only with `end_shared_session=True`.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._session.logout(self._send_once, end_shared=end_shared_session)
        finally:
            self._http.close()

    def _build_http(self, verify: bool | str, max_concurrency: int) -> HTTPAdapter:
        """The connection pool; requests go to it directly, not through a `requests.Session`.

        A session merges cookies, hooks, `.netrc` and the proxy variables into every request
        (~0.7 ms of CPU a call; a `.netrc` entry for the host would even replace the Bearer
        header). What the environment says is read once instead, by `environment_settings`.
        """
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrency, max_retries=0)
        if verify is False:
            # One warning per client instead of one per request.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            warnings.warn(
                f"TLS verification is off for {self.url}: the server's identity is not checked",
                stacklevel=3,
            )
        return adapter

    def _call_session(
        self, method: str, params: dict[str, Any], token: Token | None
    ) -> dict[str, Any]:
        return self._request("Session", method, params, token, finish=self._decode)

    def _send_once(
        self, method: str, params: dict[str, Any], token: Token | None
    ) -> dict[str, Any]:
        # Closing must not wait out a retry budget against a server that is down.
        return self._attempt("Session", method, params, token, self._decode)

    def _token_lifetime(self, token: Token) -> float | None:
        """Seconds the server's access tokens live; None when it cannot say (never raises)."""
        try:
            answer = self._call_session(TOKEN_LIFETIME, {}, token)
        except PortaBillingError as exc:
            logger.info("Session/%s unavailable (%s)", TOKEN_LIFETIME, type(exc).__name__)
            return None
        return lifetime_in(answer)

    def _request(
        self,
        service: str,
        method: str,
        params: dict[str, Any],
        token: Token | None,
        renew: Callable[[Token], Token] | None = None,
        *,
        finish: "Finish[T]",
    ) -> T:
        """One API call with retries of transport trouble, within the attempt and time budgets.

        No attempt outlives the retry budget. With `renew`, a rejected session is renewed and the
        call sent again, up to `MAX_SESSION_RECOVERIES` losses in a row.
        """
        deadline = self._clock() + self._retry_deadline
        attempt = losses = 0
        while True:
            try:
                return self._attempt(service, method, params, token, finish, not_after=deadline)
            except SessionRejectedError as exc:
                if renew is None or token is None or losses >= MAX_SESSION_RECOVERIES:
                    raise
                self._log.info(
                    "%s/%s: session rejected (%s); re-authenticating",
                    service,
                    method,
                    exc.faultcode,
                )
                losses += 1
                token = renew(token)
            except TransientError as exc:
                delay = retry_delay(
                    attempt, exc.retry_after, base=self._backoff_base, cap=self._backoff_cap
                )
                if attempt >= self._max_retries or self._clock() + delay >= deadline:
                    raise TransientError(
                        f"{exc.message}; gave up after {attempt + 1} attempts",
                        service=service,
                        method=method,
                        http_status=exc.http_status,
                    ) from None
                self._log.warning(
                    "%s/%s: attempt %d failed (%s); next attempt in %.2f s",
                    service,
                    method,
                    attempt + 1,
                    exc.message,
                    delay,
                )
                self._counters.retry()
                self._sleep(delay)
                attempt, losses = attempt + 1, 0

    def _attempt(
        self,
        service: str,
        method: str,
        params: dict[str, Any],
        token: Token | None,
        finish: "Finish[T]",
        not_after: float | None = None,
    ) -> T:
        """Send once and `finish`, raising the mapped error for anything but a successful answer.

        The whole answer must arrive within the attempt deadline (and by `not_after`).
        """
        data, headers = self._encode(params, token)
        self._wait_for_gate()
        with self._slots, self._request_slot():
            deadline = AttemptDeadline(self._attempt_deadline, self._clock, not_after)
            try:
                request = requests.Request(
                    "POST",
                    f"{self.url}/rest/{service}/{method}",
                    data=data,
                    headers={**self._headers, **headers},
                ).prepare()
                response = self._http.send(
                    request,
                    stream=True,
                    timeout=deadline.bound_pair(self._timeout),
                    verify=self._verify,
                    proxies=self._proxies,
                )
                body = read_body(response, deadline, self._read_timeout)
            except requests.exceptions.SSLError as exc:
                self._counters.no_response()
                raise ConfigurationError(
                    f"{_tls_failure(exc)} (verify= in Python)",
                    service=service,
                    method=method,
                ) from None
            except _RETRIED_EXCEPTIONS as exc:
                self._counters.no_response()
                reason = deadline.describe() if deadline.has_expired(exc) else transport_cause(exc)
                raise TransientError(reason, service=service, method=method) from None
        return finish(response, body, service, method)

    def _encode(self, params: dict[str, Any], token: Token | None) -> tuple[Any, dict[str, str]]:
        """Request body and headers: JSON + Bearer, or the legacy form with `auth_info`."""
        if self._legacy:
            form = {"params": json.dumps(params)}
            if token is not None:
                if not token.session_id:
                    raise ProtocolError("legacy mode needs a session_id, the login answer had none")
                form["auth_info"] = json.dumps({"session_id": token.session_id})
            return form, {}
        headers = {"Content-Type": "application/json"}
        if token is not None:
            if not token.access_token:
                raise ProtocolError(
                    "the login answer had no access_token: for servers before MR101 use legacy=True"
                )
            headers["Authorization"] = f"Bearer {token.access_token}"
        return json.dumps({"params": params}).encode(), headers

    def _decode(
        self, response: requests.Response, body: bytes, service: str, method: str
    ) -> Answer:
        """The decoded answer of a successful request; anything else raises the mapped error."""
        return self._decode_later(response, body, service, method)()

    def _decode_later(
        self, response: requests.Response, body: bytes, service: str, method: str
    ) -> Decoder:
        """A 200 body kept as text for `_decode_kept`; anything else raises the mapped error now."""
        status = response.status_code
        self._counters.response(len(body), throttled=status == 429)
        logger.debug("%s/%s -> HTTP %d, %d bytes", service, method, status, len(body))
        if status != 200:
            raise self._error(response, parse_json(body), body, service, method)
        return functools.partial(_decode_kept, body, service, method)

    def _error(
        self, response: requests.Response, payload: Any, body: bytes, service: str, method: str
    ) -> PortaBillingError:
        error = error_for_response(
            response.status_code, payload, body, service=service, method=method
        )
        if isinstance(error, TransientError):
            error.retry_after = parse_retry_after(
                response.headers.get("Retry-After"), self._clock()
            )
            self._hold_all(error.retry_after)
        return error

    def _hold_all(self, seconds: float | None) -> None:
        """Keep every thread of this client from sending for `seconds` (a Retry-After)."""
        if seconds is None:
            return
        with self._gate_lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def _wait_for_gate(self) -> None:
        wait = self._not_before - self._clock()
        if wait > 0:
            self._sleep(wait)
