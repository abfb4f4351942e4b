"""API sessions: realm logins, RS256 access tokens, single-use refresh tokens, kills, locks."""

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
from connector.emulator.faults import Fault, invalid_param
from connector.emulator.realms import REALMS, Directory, Principal
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
    principal: Principal
    alive: bool = True
    refresh_token: str = field(default="", repr=False)
    token_expiry: dict[str, float] = field(default_factory=dict, repr=False)


class SessionTable:
    """Issues and checks credentials against the live config and the injected clock."""

    def __init__(
        self,
        config: EmulatorConfig,
        directory: Directory,
        clock: Callable[[], float],
        counters: Counters,
    ) -> None:
        self._config = config
        self._directory = directory
        self._clock = clock
        self._counters = counters
        self._lock = threading.Lock()
        self._by_access: dict[str, Session] = {}
        self._by_id: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def login(
        self, login: Any, password: Any = None, token: Any = None, realm: str | None = None
    ) -> dict[str, Any]:
        """`Session/login` (any realm the credentials fit) or `login_to_realm`: open a session."""
        with self._lock:
            principal = self._check_credentials(str(login), password, token, realm)
            session = Session(session_id=secrets.token_hex(16), principal=principal)
            self._by_id[session.session_id] = session
            answer = self._issue(session)
        self._counters.add("logins")
        return {**answer, "session_id": session.session_id}

    def login_to_realm(self, params: dict[str, Any]) -> dict[str, Any]:
        """`Session/login_to_realm`: `Session/login` in the named realm; an unknown one faults."""
        realm = params.get("realm")
        if realm not in REALMS:
            raise invalid_param("login_to_realm", f"realm must be one of {', '.join(REALMS)}")
        return self.login(params.get("login"), params.get("password"), params.get("token"), realm)

    def check_login(self, login: Any, password: Any = None, token: Any = None) -> Principal:
        """Per-request credentials (legacy `auth_info` with login + password/token)."""
        with self._lock:
            return self._check_credentials(str(login), password, token, None)

    def _check_credentials(
        self, login: str, password: Any, token: Any, realm: str | None
    ) -> Principal:
        now = self._clock()
        if self._locked_until.get(login, 0.0) > now:
            raise Fault(faults.BRUTE_FORCE, "Too many failed login attempts; try again later")
        principal = self._directory.identify(login, password, token, realm)
        if principal is not None:
            self._failures.pop(login, None)
            return principal
        self._failures[login] = self._failures.get(login, 0) + 1
        if self._failures[login] >= self._config.brute_force_attempts:
            self._failures.pop(login)
            self._locked_until[login] = now + self._config.brute_force_lock_s
        raise Fault(faults.AUTH_FAILED, "Invalid login or password")

    def _issue(self, session: Session) -> dict[str, Any]:
        """Mint an access + refresh token pair for `session` (caller holds the lock)."""
        now = int(self._clock())
        lifetime = self._config.access_token_lifetime_s
        exp = now + lifetime
        claims = {
            "exp": exp,
            "iat": now,
            "i_env": 1,
            "login": session.principal.login,
            "scopes": "portabilling.api:read portabilling.api:write espf.api:write",
            "jti": session.session_id,
            "aud": ["portabilling-api", "portasip-api", "espf-api"],
            **session.principal.claims(),
        }
        access = jwt.encode(claims, signing_key(), algorithm="RS256")
        session.token_expiry[access] = exp
        session.refresh_token = secrets.token_urlsafe(32)
        self._by_access[access] = session
        self._by_refresh[session.refresh_token] = session
        answer: dict[str, Any] = {
            "access_token": access,
            "refresh_token": session.refresh_token,
            "expires_at": utc(exp),
        }
        if self._config.profile.expires_in:
            answer["expires_in"] = lifetime
        return answer

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
        """`Session/ping`: the principal's `user_id` for a live token, 0 otherwise."""
        try:
            session = self.by_access_token(str(token))
        except Fault:
            return {"user_id": 0}
        return {"user_id": session.principal.user_id}

    def logout(self, token: Any) -> dict[str, Any]:
        """`Session/logout`: end the token's live session; any other token faults (seen)."""
        with self._lock:
            session = self._by_access.get(str(token))
            if session is None or not session.alive:
                raise Fault(faults.LOGOUT_BAD_TOKEN, "Failed to process access token")
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
