"""The PortaBilling methods the emulator serves, keyed by `"Service/method"`."""

import calendar
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.emulator import faults
from connector.emulator.config import EmulatorConfig
from connector.emulator.faults import Fault, invalid_date, invalid_param
from connector.emulator.realms import Principal, scoped
from connector.emulator.releases import ENV_INFO
from connector.emulator.sessions import SessionTable
from connector.emulator.world import World

Params = dict[str, Any]
Answer = dict[str, Any]
# Methods a release before MR101 does not know.
_REALM_METHODS = frozenset({"Session/login_to_realm", "Session/get_access_token_lifetime"})


@dataclass(frozen=True)
class Credentials:
    """What a request authenticates with: a bearer token, or a legacy `auth_info` object."""

    bearer: str | None = field(default=None, repr=False)
    auth_info: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def identity(self) -> str | None:
        """A stable name for whoever sent the request (for Retry-After bookkeeping)."""
        if self.bearer:
            return self.bearer
        info = self.auth_info or {}
        value = info.get("access_token") or info.get("session_id") or info.get("login")
        return None if value is None else str(value)


class Api:
    """Dispatches `Service/method` calls to handlers after checking credentials."""

    def __init__(
        self, world: World, sessions: SessionTable, config: EmulatorConfig, rng: random.Random
    ) -> None:
        self._world = world
        self._sessions = sessions
        self._config = config
        self._rng = rng
        self._handlers: dict[str, Callable[[Params], Answer]] = {
            "Account/get_account_list": self._account_list,
            "Account/get_account_info": self._account_info,
            "Account/get_xdr_list": self._account_xdrs,
            "Customer/get_customer_list": self._customer_list,
            "Customer/get_customer_info": self._customer_info,
            "Customer/get_customer_xdrs": self._customer_xdrs,
            "Generic/get_version": lambda p: {"version": self._config.profile.version},
            "Env/get_env_info": lambda p: {"env_info": dict(ENV_INFO)},
            "Session/get_access_token_lifetime": lambda p: {
                "access_token_lifetime": self._config.access_token_lifetime_s
            },
        }
        self._session_handlers: dict[str, Callable[[Params], Answer]] = {
            "Session/login": lambda p: self._sessions.login(
                p.get("login"), p.get("password"), p.get("token")
            ),
            "Session/login_to_realm": self._sessions.login_to_realm,
            "Session/refresh_access_token": lambda p: self._sessions.refresh(
                p.get("refresh_token")
            ),
            "Session/ping": lambda p: self._sessions.ping(p.get("access_token")),
            "Session/logout": lambda p: self._sessions.logout(p.get("access_token")),
        }

    def call(self, name: str, params: Params, credentials: Credentials) -> Answer:
        """Answer one call or raise the Fault the server would send."""
        if name in _REALM_METHODS and not self._config.profile.realm_methods:
            raise Fault(faults.UNKNOWN_METHOD, f"Unknown method {name}")
        if name in self._session_handlers:
            return self._session_handlers[name](params)
        handler = self._handlers.get(name)
        if handler is None:
            raise Fault(faults.UNKNOWN_METHOD, f"Unknown method {name}")
        return handler(scoped(self._authorize(credentials), name, params))

    def _authorize(self, credentials: Credentials) -> Principal:
        """Accept a live session (maybe killed now, per `session_kill_rate`) or a per-call login."""
        info = credentials.auth_info or {}
        if credentials.bearer:
            session = self._sessions.by_access_token(credentials.bearer)
        elif "access_token" in info:
            session = self._sessions.by_access_token(str(info["access_token"]))
        elif "session_id" in info:
            session = self._sessions.by_session_id(str(info["session_id"]))
        elif "login" in info:
            login, password, token = info["login"], info.get("password"), info.get("token")
            return self._sessions.check_login(login, password, token)
        else:
            raise Fault(faults.ENVELOPE_MISSED, "Authentication envelope is missing")
        if self._rng.random() < self._config.session_kill_rate:
            self._sessions.kill(session)
            raise Fault(faults.SESSION_REJECTED, "Session is expired or invalid")
        return session.principal

    def _with_total(self, answer: Answer, total: int, params: Params) -> Answer:
        if _flag(params, "get_total"):
            answer["total"] = str(total) if self._config.total_as_string else total
        return answer

    def _account_list(self, params: Params) -> Answer:
        method = "get_account_list"
        offset, limit = _paging(params, method)
        churn = self._config.churn_per_page
        if churn:
            self._world.churn(churn)
        i_customer = _optional_int(params, "i_customer", method)
        bill_status = params.get("bill_status")
        records, total = self._world.account_page(offset, limit, i_customer, bill_status)
        return self._with_total({"account_list": records}, total, params)

    def _account_info(self, params: Params) -> Answer:
        method = "get_account_info"
        i_account = _optional_int(params, "i_account", method)
        if i_account is not None:
            record = self._world.account(i_account)
        elif "id" in params or "login" in params:
            name = "id" if "id" in params else "login"
            record = self._world.account_by(name, str(params[name]))
        else:
            raise invalid_param(method, "i_account, id or login is required")
        return {} if record is None else {"account_info": record}

    def _account_xdrs(self, params: Params) -> Answer:
        method = "get_xdr_list"
        i_account = _required_int(params, "i_account", method)
        start, end = _date_range(params, method)
        offset, limit = _paging(params, method)
        records, total = self._world.account_xdrs(i_account, start, end, offset, limit)
        return self._with_total({"xdr_list": records}, total, params)

    def _customer_list(self, params: Params) -> Answer:
        offset, limit = _paging(params, "get_customer_list")
        records, total = self._world.customer_page(offset, limit)
        return self._with_total({"customer_list": records}, total, params)

    def _customer_info(self, params: Params) -> Answer:
        record = self._world.customer(_required_int(params, "i_customer", "get_customer_info"))
        return {} if record is None else {"customer_info": record}

    def _customer_xdrs(self, params: Params) -> Answer:
        """A customer's xDRs by billing time: `from_date` inclusive, `to_date` exclusive."""
        method = "get_customer_xdrs"
        i_customer = _required_int(params, "i_customer", method)
        start, end = _date_range(params, method)
        offset, limit = _paging(params, method)
        records, total = self._world.customer_xdrs(i_customer, start, end, offset, limit)
        return self._with_total({"xdr_list": records}, total, params)


def _optional_int(params: Params, name: str, method: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).lstrip("-").isdigit()
    ):
        raise invalid_param(method, f"{name} must be an integer")
    return int(value)


def _required_int(params: Params, name: str, method: str) -> int:
    value = _optional_int(params, name, method)
    if value is None:
        raise invalid_param(method, f"{name} is required")
    return value


def _paging(params: Params, method: str) -> tuple[int, int | None]:
    offset = _optional_int(params, "offset", method) or 0
    limit = _optional_int(params, "limit", method)
    if offset < 0 or (limit is not None and limit < 0):
        raise invalid_param(method, "limit and offset must be >= 0")
    return offset, limit


def _flag(params: Params, name: str) -> bool:
    return params.get(name) in (1, "1", True, "Y")


def _date_range(params: Params, method: str) -> tuple[int | None, int | None]:
    """`from_date` (inclusive) and `to_date` (exclusive) as epoch seconds, UTC."""
    return _epoch(params, "from_date", method), _epoch(params, "to_date", method)


def _epoch(params: Params, name: str, method: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return calendar.timegm(time.strptime(str(value), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        raise invalid_date(method, name) from None
