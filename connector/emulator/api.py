"""The PortaBilling methods the emulator serves, keyed by `"Service/method"`."""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.emulator import faults
from connector.emulator.config import EmulatorConfig
from connector.emulator.faults import Fault, invalid_param
from connector.emulator.filters import AccountQuery, CustomerQuery, Like
from connector.emulator.numbers import with_alias_lists
from connector.emulator.params import (
    Params,
    date_range,
    flag,
    optional_int,
    paging,
    required_int,
    with_total,
)
from connector.emulator.realms import Principal, scoped
from connector.emulator.releases import ENV_INFO
from connector.emulator.sessions import SessionTable
from connector.emulator.table_rows import TableSet
from connector.emulator.world import Page, World

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
        self,
        world: World,
        tables: TableSet,
        sessions: SessionTable,
        config: EmulatorConfig,
        rng: random.Random,
    ) -> None:
        self._world = world
        self._tables = tables
        self._sessions = sessions
        self._config = config
        self._rng = rng
        self._handlers: dict[str, Callable[[Params], Answer]] = {
            "Account/get_account_list": self._account_list,
            "Account/get_account_info": self._account_info,
            "Account/get_xdr_list": self._account_xdrs,
            "Account/get_alias_list": self._alias_list,
            "Customer/get_customer_list": self._customer_list,
            "Customer/get_customer_info": self._customer_info,
            "Customer/get_customer_xdrs": self._customer_xdrs,
            "Generic/get_version": lambda p: {"version": self._config.profile.version},
            "Env/get_env_info": lambda p: {"env_info": dict(ENV_INFO)},
            "Session/get_access_token_lifetime": lambda p: {
                "access_token_lifetime": self._config.access_token_lifetime_s
            },
            "Customer/get_extensions_list": self._extensions_list,
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
        handler = self._handlers.get(name) or self._tables.handler(name)
        if handler is None:
            raise Fault(faults.UNKNOWN_METHOD, f"Unknown method {name}")
        params = scoped(self._authorize(credentials), name, params)
        faults.raise_injected(self._config.faulty_ids, name, params)
        return handler(params)

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
        return with_total(answer, total, params, self._config.total_as_string)

    def _account_list(self, params: Params) -> Answer:
        method = "get_account_list"
        offset, limit = paging(params, method)
        churn = self._config.churn_per_page
        if churn:
            self._world.churn(churn)
        i_customer = optional_int(params, "i_customer", method)
        query = AccountQuery.of(params, i_customer, flag(params, "get_not_closed_accounts"))
        records, total = self._world.account_page(offset, limit, query)
        if flag(params, "with_aliases"):
            records = with_alias_lists(records)
        return self._with_total({"account_list": records}, total, params)

    def _account_info(self, params: Params) -> Answer:
        method = "get_account_info"
        i_account = optional_int(params, "i_account", method)
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
        i_account = required_int(params, "i_account", method)
        start, end = date_range(params, method)
        offset, limit = paging(params, method)
        records, total = self._world.account_xdrs(i_account, start, end, offset, limit)
        return self._with_total({"xdr_list": records}, total, params)

    def _alias_list(self, params: Params) -> Answer:
        return self._list_of(params, "get_alias_list", "i_master_account", self._world.aliases)

    def _extensions_list(self, params: Params) -> Answer:
        branches = flag(params, "get_main_office_extensions")
        return self._list_of(
            params,
            "get_extensions_list",
            "i_customer",
            lambda key, offset, limit: self._world.extensions(key, offset, limit, branches),
        )

    def _list_of(
        self, params: Params, method: str, owner: str, read: Callable[[int, int, int | None], Page]
    ) -> Answer:
        """A paged list of one entity's things, e.g. `get_alias_list {i_master_account}`."""
        key = required_int(params, owner, method)
        offset, limit = paging(params, method)
        records, total = read(key, offset, limit)
        return self._with_total({method.removeprefix("get_"): records}, total, params)

    def _customer_list(self, params: Params) -> Answer:
        method = "get_customer_list"
        offset, limit = paging(params, method)
        name = params.get("name")
        query = CustomerQuery(
            None if name is None else Like(str(name)),
            optional_int(params, "i_main_customer", method),
            optional_int(params, "i_office_type", method),
        )
        records, total = self._world.customer_page(offset, limit, query)
        return self._with_total({"customer_list": records}, total, params)

    def _customer_info(self, params: Params) -> Answer:
        record = self._world.customer(required_int(params, "i_customer", "get_customer_info"))
        return {} if record is None else {"customer_info": record}

    def _customer_xdrs(self, params: Params) -> Answer:
        """A customer's xDRs by billing time: `from_date` inclusive, `to_date` exclusive."""
        method = "get_customer_xdrs"
        i_customer = required_int(params, "i_customer", method)
        start, end = date_range(params, method)
        offset, limit = paging(params, method)
        records, total = self._world.customer_xdrs(i_customer, start, end, offset, limit)
        return self._with_total({"xdr_list": records}, total, params)
