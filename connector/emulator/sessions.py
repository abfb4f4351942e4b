"""API sessions: login, RS256 access tokens, single-use refresh tokens, kills, brute-force lock."""

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.emulator import faults
from connector.emulator.config import EmulatorConfig
from connector.emulator.counters import Counters
from connector.emulator.faults import Fault
from connector.emulator.records import utc


@cache
def signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: generating one per emulator would slow every test down."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_pem() -> str:
    """The PEM public key that verifies every access token this process issues."""
    public = signing_key().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


@dataclass
class Session:
    """One logged-in session; its access tokens point here."""

    session_id: str
    login: str
    alive: bool = True
    refresh_token: str = field(default="", repr=False)
    token_expiry: dict[str, float] = field(default_factory=dict, repr=False)


class SessionTable:
    """Issues and checks credentials against the live config and the injected clock."""

    def __init__(
        self, config: EmulatorConfig, clock: Callable[[], float], counters: Counters
    ) -> None:
        self._config = config
        self._clock = clock
        self._counters = counters
        self._lock = threading.Lock()
        self._by_access: dict[str, Session] = {}
        self._by_id: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def login(self, login: Any, password: Any = None, token: Any = None) -> dict[str, Any]:
        """`Session/login`: check login + password or API token, open a session."""
        with self._lock:
            self._check_credentials(str(login), password, token)
            session = Session(session_id=secrets.token_hex(16), login=str(login))
            self._by_id[session.session_id] = session
            answer = self._issue(session)
        self._counters.add("logins")
        return {**answer, "session_id": session.session_id}

    def check_login(self, login: Any, password: Any = None, token: Any = None) -> None:
        """Per-request credentials (legacy `auth_info` with login + password/token)."""
        with self._lock:
            self._check_credentials(str(login), password, token)

    def _check_credentials(self, login: str, password: Any, token: Any) -> None:
        now = self._clock()
        if self._locked_until.get(login, 0.0) > now:
            raise Fault(faults.BRUTE_FORCE, "Too many failed login attempts; try again later")
        config = self._config
        good_password = password is not None and password == config.password
        good_token = (
            token is not None and config.api_token is not None and token == config.api_token
        )
        if login == config.login and (good_password or good_token):
            self._failures.pop(login, None)
            return
        self._failures[login] = self._failures.get(login, 0) + 1
        if self._failures[login] >= config.brute_force_attempts:
            self._failures.pop(login)
            self._locked_until[login] = now + config.brute_force_lock_s
        raise Fault(faults.AUTH_FAILED, "Invalid login or password")

    def _issue(self, session: Session) -> dict[str, Any]:
        """Mint an access + refresh token pair for `session` (caller holds the lock)."""
        now = int(self._clock())
        exp = now + self._config.token_lifetime_s
        claims = {
            "exp": exp,
            "iat": now,
            "i_user": 1,
            "i_env": 1,
            "login": session.login,
            "scopes": "portabilling.api:read portabilling.api:write espf.api:write",
            "jti": session.session_id,
            "realm": "admin",
            "aud": ["portabilling-api", "portasip-api", "espf-api"],
            "is_super_user": 1,
        }
        access = jwt.encode(claims, signing_key(), algorithm="RS256")
        session.token_expiry[access] = exp
        session.refresh_token = secrets.token_urlsafe(32)
        self._by_access[access] = session
        self._by_refresh[session.refresh_token] = session
        expires_at = utc(exp)
        lifetime = self._config.token_lifetime_s
        return {
            "access_token": access,
            "refresh_token": session.refresh_token,
            "expires_at": expires_at,
            "expires_in": lifetime,
        }

    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        """`Session/refresh_access_token`: a refresh token works once, on a live session."""
        with self._lock:
            session = self._by_refresh.pop(str(refresh_token), None)
            if session is None or not session.alive:
                self._counters.add("refresh_failures")
                raise Fault(faults.REFRESH_FAILED, "Refresh token is invalid or already used")
            answer = self._issue(session)
        self._counters.add("refreshes")
        return answer

    def by_access_token(self, token: str) -> Session:
        """The live session an access token belongs to, or the fault the server would answer."""
        if token.count(".") != 2:
            raise Fault(faults.BAD_ACCESS_TOKEN, "Failed to process access token")
        with self._lock:
            session = self._by_access.get(token)
            if session is None or not session.alive or session.token_expiry[token] <= self._clock():
                raise Fault(faults.SESSION_REJECTED, "Session is expired or invalid")
            return session

    def by_session_id(self, session_id: str) -> Session:
        """The live session with this id (legacy `auth_info`)."""
        with self._lock:
            session = self._by_id.get(session_id)
            if (
                session is None
                or not session.alive
                or self._latest_expiry(session) <= self._clock()
            ):
                raise Fault(faults.SESSION_REJECTED, "Session is expired or invalid")
            return session

    @staticmethod
    def _latest_expiry(session: Session) -> float:
        return max(session.token_expiry.values(), default=0.0)

    def ping(self, token: Any) -> dict[str, Any]:
        """`Session/ping`: `user_id` 1 for a live token, 0 otherwise."""
        try:
            self.by_access_token(str(token))
        except Fault:
            return {"user_id": 0}
        return {"user_id": 1}

    def logout(self, token: Any) -> dict[str, Any]:
        """`Session/logout`: end the session the token belongs to."""
        with self._lock:
            session = self._by_access.get(str(token))
            if session is not None:
                session.alive = False
        return {"success": 1}

    def kill(self, session: Session) -> None:
        """End one session now (inactivity timer, site switch)."""
        with self._lock:
            session.alive = False

    def kill_all(self) -> None:
        """End every live session now."""
        with self._lock:
            for session in self._by_id.values():
                session.alive = False
