"""Realms: who a login speaks for (admin, customer, account) and what that realm may call.

`Session/login_to_realm` is named by the seed documentation; its parameters (`login`, `password`
or `token`, `realm`) and the realm rules below are guesses. Account-realm tokens carry `i_account`
(seen in public clients); an account realm's own-data calls take no id (seen: WebTrit's adapter
calls `Account/get_account_info` and `Account/get_xdr_list` without one).
"""

from dataclasses import dataclass
from typing import Any

from connector.emulator import faults
from connector.emulator.config import EmulatorConfig
from connector.emulator.faults import Fault
from connector.emulator.records import Record, decode
from connector.emulator.world import World

ADMIN, RESELLER, CUSTOMER, ACCOUNT = "admin", "reseller", "customer", "account"
REALMS = (ADMIN, RESELLER, CUSTOMER, ACCOUNT)
# Calls every realm may make, with nothing to scope.
COMMON_METHODS = frozenset({"Session/get_access_token_lifetime", "Generic/get_version"})
# Per realm: method -> the id parameter forced to the realm's own entity (guess: ids sent by the
# caller are replaced, so a realm never reads another entity's data).
OWN_DATA: dict[str, dict[str, str]] = {
    ACCOUNT: {
        "Account/get_account_info": "i_account",
        "Account/get_xdr_list": "i_account",
        "Account/get_alias_list": "i_account",
    },
    CUSTOMER: {
        "Customer/get_customer_info": "i_customer",
        "Account/get_account_list": "i_customer",
        "Customer/get_customer_xdrs": "i_customer",
    },
}
# Parameters that name an entity, dropped before the realm's own id is set.
_ID_PARAMS = {"i_account": ("i_account", "id", "login"), "i_customer": ("i_customer",)}


@dataclass(frozen=True)
class Principal:
    """Who a session or a per-call login speaks for."""

    realm: str
    login: str
    i_account: int | None = None
    i_customer: int | None = None

    @property
    def user_id(self) -> int:
        """What `Session/ping` answers as `user_id` (guess: the realm's own id; 1 for admin)."""
        own = self.i_account if self.realm == ACCOUNT else self.i_customer
        return 1 if own is None else own

    def claims(self) -> dict[str, Any]:
        """The realm's own JWT claims."""
        if self.realm == ACCOUNT:
            return {"realm": ACCOUNT, "i_account": self.i_account}
        if self.realm == CUSTOMER:
            return {"realm": CUSTOMER, "i_customer": self.i_customer}
        return {"realm": ADMIN, "i_user": 1, "is_super_user": 1}


def scoped(principal: Principal, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` as the principal's realm serves `name`; a fault when the realm may not call it."""
    if principal.realm == ADMIN or name in COMMON_METHODS:
        return params
    id_name = OWN_DATA.get(principal.realm, {}).get(name)
    if id_name is None:
        raise Fault(faults.ACCESS_DENIED, f"{name} is not available in the {principal.realm} realm")
    kept = {k: v for k, v in params.items() if k not in _ID_PARAMS[id_name]}
    return {**kept, id_name: getattr(principal, id_name)}


class Directory:
    """Checks credentials: the configured API user (admin), accounts and customers."""

    def __init__(self, config: EmulatorConfig, world: World) -> None:
        self._config = config
        self._world = world

    def identify(
        self, login: str, password: Any, token: Any, realm: str | None
    ) -> Principal | None:
        """The principal these credentials log in as, or None.

        Without a realm (`Session/login`, one port here) the API user wins, then an account with
        that login: a real server takes account credentials at its account-realm port.
        """
        if realm in (None, ADMIN) and self._is_api_user(login, password, token):
            return Principal(ADMIN, login)
        if realm in (None, ACCOUNT):
            return self._account(login, password, token)
        if realm == CUSTOMER:
            return self._customer(login, password, token)
        return None  # no resellers in the emulated world

    def _is_api_user(self, login: str, password: Any, token: Any) -> bool:
        config = self._config
        user = {"password": config.password, "api_token": config.api_token}
        return login == config.login and _matches(user, password, token)

    def _account(self, login: str, password: Any, token: Any) -> Principal | None:
        try:
            text = self._world.account_by("login", login)
        except OverflowError:  # a login naming a key beyond int64 is simply unknown
            return None
        record = None if text is None else decode(text)
        if record is None or record.get("login") != login or not _matches(record, password, token):
            return None
        return Principal(ACCOUNT, login, record["i_account"], record["i_customer"])

    def _customer(self, login: str, password: Any, token: Any) -> Principal | None:
        for text in self._world.customer_page(0, None)[0]:
            record = decode(text)
            if record.get("login") == login:
                if not _matches(record, password, token):
                    return None
                return Principal(CUSTOMER, login, i_customer=record["i_customer"])
        return None


def _matches(record: Record, password: Any, token: Any) -> bool:
    """The password or the API token given equals the one on record (a missing one never does)."""
    good_password = password is not None and password == record.get("password")
    good_token = token is not None and token == record.get("api_token")
    return good_password or good_token
