"""The API session: login, token expiry, proactive refresh and re-login, shared by all threads."""

import contextlib
import copy
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from connector.api.errors import AuthenticationError, PortaBillingError, ProtocolError

logger = logging.getLogger(__name__)

# Sends one `Session/<method>` request and returns the decoded answer; `token` authenticates it.
SessionSender = Callable[[str, dict[str, Any], "Token | None"], dict[str, Any]]
# Asks the server how long its access tokens live (seconds); None when it cannot say.
LifetimeProbe = Callable[["Token"], float | None]
REALMS = ("admin", "reseller", "customer", "account")
# Wire shapes of the two realm/lifetime methods are guesses: the doc names them, not their params.
LOGIN_TO_REALM = "login_to_realm"  # params: Session/login's plus "realm"; answered like login
REALM_PARAM = "realm"
TOKEN_LIFETIME = "get_access_token_lifetime"  # params {} with the Bearer token
LIFETIME_FIELD = "access_token_lifetime"  # its answer: {"access_token_lifetime": <seconds>}
# The refresh margin is never more than this share of a token's life.
MARGIN_SHARE = 1 / 3


@dataclass(frozen=True)
class SharedToken:
    """One issued session, as processes share it."""

    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    session_id: str | None = field(repr=False)
    expires_at: float | None
    refresh_at: float | None

    def shared_fields(self) -> dict[str, Any]:
        """The fields every process may use (a `Token` adds its process-local generation)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(SharedToken)}

    def is_same_session(self, other: "SharedToken | None") -> bool:
        """Whether `other` carries the same access token and session id."""
        return other is not None and (self.access_token, self.session_id) == (
            other.access_token,
            other.session_id,
        )


@dataclass(frozen=True)
class Token(SharedToken):
    """One issued session; `generation` tells which login or refresh of this process produced it."""

    generation: int


class SharedSession(Protocol):
    """Where processes share one session (`connector.api.token_cache.TokenCache`)."""

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive use across processes while a session is read, renewed and written."""
        ...

    def load(self) -> SharedToken | None: ...

    def save(self, token: SharedToken) -> None: ...

    def clear(self) -> None: ...


def parse_expires_at(value: str) -> float:
    """Epoch seconds of an API datetime (`YYYY-MM-DD HH:MM:SS`, UTC)."""
    parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return parsed.timestamp()


def jwt_expiry(access_token: str, public_key: str | None) -> float | None:
    """The JWT `exp` claim; with `public_key`, a token whose RS256 signature fails is refused.

    Expiry is compared with the injected clock by the caller, so PyJWT's own `exp` check is off.
    """
    try:
        claims = jwt.decode(
            access_token,
            public_key or "",
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_aud": False,
                "verify_signature": public_key is not None,
            },
        )
    except jwt.InvalidSignatureError:
        raise AuthenticationError("access token failed signature verification") from None
    except jwt.PyJWTError as exc:
        if public_key is not None:
            raise AuthenticationError(f"access token refused: {type(exc).__name__}") from None
        return None  # not a JWT: the answer's expires_at / expires_in decide
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def lifetime_in(answer: dict[str, Any]) -> float | None:
    """The token lifetime a `Session/get_access_token_lifetime` answer reports, if usable."""
    value = answer.get(LIFETIME_FIELD)
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            seconds = float(value)
            if 0 < seconds < math.inf:
                return seconds
    logger.warning("unusable token lifetime in the server's answer; using the tokens' own expiry")
    return None


class SessionManager:
    """Keeps one valid session for any number of threads; at most one login or refresh is in flight.

    Threads read the current token without locking. Whoever finds it missing, expiring or rejected
    takes the lock; the others wait on it and reuse the result, so one expiry costs one refresh.
    With `realm`, logins go through `Session/login_to_realm`. After the first login `lifetime`
    asks once how long tokens live; the refresh margin then never exceeds a third of that.
    """

    def __init__(
        self,
        send: SessionSender,
        *,
        login: str,
        password: str | None,
        api_token: str | None,
        refresh_margin: float,
        public_key: str | None,
        clock: Callable[[], float] = time.time,
        shared: SharedSession | None = None,
        realm: str | None = None,
        lifetime: LifetimeProbe | None = None,
    ) -> None:
        self._send = send
        self._shared = shared
        self._login = login
        self._credentials = {"password": password} if password is not None else {"token": api_token}
        self._realm = realm
        self._ask_lifetime = lifetime
        self._lifetime: float | None = None  # seconds a token lives, once the server said
        self._refresh_margin = refresh_margin
        self._public_key = public_key
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._failure: AuthenticationError | None = None
        self._generation = 0
        self.logins = 0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"SessionManager(login={self._login!r})"

    def current(self) -> Token:
        """A token that is valid now, logging in or refreshing first when needed."""
        token = self._token
        if token is not None and not self._is_due(token):
            return token
        with self._lock:
            token = self._token
            if token is not None and not self._is_due(token):
                return token
            return self._renew_locked(may_refresh=True)

    def renew(self, rejected: Token) -> Token:
        """A fresh token after the server rejected `rejected` (unless another thread renewed it).

        A token rejected before it was due for refresh means the server ended the whole session
        (inactivity timer, site switch), so its refresh token is dead too: log in straight away.
        """
        with self._lock:
            if self._token is not None and self._token.generation != rejected.generation:
                return self._token
            return self._renew_locked(may_refresh=self._is_due(rejected), rejected=rejected)

    def logout(self, send: SessionSender, *, end_shared: bool = False) -> None:
        """End the server session with `send` (best effort: a failure only gets logged).

        A shared session outlives this process: only `end_shared=True` (the run's end) logs it out.
        """
        with self._lock:
            token, self._token = self._token, None
            if self._shared is not None:
                if not end_shared:
                    return
                with self._shared.locked():
                    cached = self._shared.load()
                    self._shared.clear()
                token = self._adopt(cached) if cached is not None else None
        if token is None:
            return
        try:
            send("logout", {"access_token": token.access_token or ""}, token)
        except PortaBillingError as exc:
            logger.debug("logout of %s failed: %s", self._login, type(exc).__name__)

    def _is_due(self, token: Token) -> bool:
        return token.refresh_at is not None and self._clock() >= token.refresh_at

    def _renew_locked(self, may_refresh: bool, rejected: Token | None = None) -> Token:
        if self._failure is not None:
            # Credentials were refused once: every caller gets that answer, no login is repeated.
            raise copy.copy(self._failure)
        if self._shared is None:
            return self._obtain_locked(may_refresh)
        with self._shared.locked():
            adopted = self._adopt_shared(rejected)
            if adopted is not None:
                return adopted
            token = self._obtain_locked(may_refresh)
            self._shared.save(token)
            return token

    def _adopt_shared(self, rejected: Token | None) -> Token | None:
        """Take the shared session when another process renewed it; None when we must renew.

        A due shared token still becomes ours, so the refresh spends the newest refresh token.
        """
        assert self._shared is not None
        cached = self._shared.load()
        if (
            cached is None
            or cached.is_same_session(self._token)
            or cached.is_same_session(rejected)
        ):
            return None
        self._token = self._adopt(cached)
        return None if self._is_due(self._token) else self._token

    def _adopt(self, shared: SharedToken) -> Token:
        self._generation += 1
        return Token(**shared.shared_fields(), generation=self._generation)

    def _obtain_locked(self, may_refresh: bool) -> Token:
        if may_refresh and self._token is not None and self._token.refresh_token:
            try:
                return self._refresh_locked(self._token)
            except AuthenticationError as exc:
                logger.info("refresh refused (%s); logging in again", exc.faultcode)
        return self._login_locked()

    def _login_locked(self) -> Token:
        self.logins += 1
        try:
            answer = self._send(*self._login_request(), None)
            issued_at = self._clock()
            token = self._issue(answer, previous=None, now=issued_at)
        except AuthenticationError as exc:
            self._failure = exc
            self._token = None
            raise
        logger.info("logged in as %s", self._login)
        if self._ask_lifetime is None:
            return token
        return self._learn_lifetime(token, answer, issued_at)

    def _learn_lifetime(self, token: Token, answer: dict[str, Any], issued_at: float) -> Token:
        """Ask the token lifetime (once per manager); `token`, re-timed by it, becomes current."""
        assert self._ask_lifetime is not None
        ask, self._ask_lifetime = self._ask_lifetime, None
        self._lifetime = ask(token)
        expires_at, refresh_at = self._timing(answer, issued_at)
        self._token = dataclasses.replace(token, expires_at=expires_at, refresh_at=refresh_at)
        return self._token

    def _login_request(self) -> tuple[str, dict[str, Any]]:
        """`Session/login`, or `Session/login_to_realm` when a realm is chosen, and its params."""
        params = {"login": self._login, **self._credentials}
        if self._realm is None:
            return "login", params
        return LOGIN_TO_REALM, {**params, REALM_PARAM: self._realm}

    def _refresh_locked(self, token: Token) -> Token:
        self.refreshes += 1
        answer = self._send("refresh_access_token", {"refresh_token": token.refresh_token}, None)
        logger.debug("access token of %s refreshed", self._login)
        return self._issue(answer, previous=token, now=self._clock())

    def _issue(self, answer: dict[str, Any], previous: Token | None, now: float) -> Token:
        """Turn a login/refresh answer into the current token; a refresh keeps the session id."""
        access = answer.get("access_token")
        session_id = answer.get("session_id") or (previous.session_id if previous else None)
        if not access and not session_id:
            raise ProtocolError("session answer carries neither access_token nor session_id")
        expires_at, refresh_at = self._timing(answer, now)
        self._generation += 1
        token = Token(
            access_token=access,
            refresh_token=answer.get("refresh_token"),
            session_id=session_id,
            expires_at=expires_at,
            refresh_at=refresh_at,
            generation=self._generation,
        )
        self._token = token
        return token

    def _timing(self, answer: dict[str, Any], now: float) -> tuple[float | None, float | None]:
        """When a token issued at `now` expires, and when to refresh it."""
        expires_at = self._expiry(answer, now)
        return expires_at, self._refresh_at(expires_at, now)

    def _expiry(self, answer: dict[str, Any], now: float) -> float | None:
        """Expiry instant: the JWT `exp`, then `expires_at`, `expires_in`, the reported lifetime."""
        access = answer.get("access_token")
        if access:
            exp = jwt_expiry(access, self._public_key)
            if exp is not None:
                return exp
        try:
            if answer.get("expires_at"):
                return parse_expires_at(str(answer["expires_at"]))
            if answer.get("expires_in") is not None:
                return now + float(answer["expires_in"])
        except ValueError:
            logger.warning(
                "unreadable session expiry in the login answer; relying on server faults"
            )
        return None if self._lifetime is None else now + self._lifetime

    def _refresh_at(self, expires_at: float | None, now: float) -> float | None:
        """Refresh the margin before expiry, but never in the first two thirds of a token's life.

        A token's life is the lifetime the server reported, else what is left of it when issued.
        """
        if expires_at is None:
            return None
        life = self._lifetime if self._lifetime is not None else max(0.0, expires_at - now)
        return expires_at - min(self._refresh_margin, life * MARGIN_SHARE)
