"""The account and customer realms: own credentials, own-id tokens, own data only."""

from typing import Any

import jwt
import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@pytest.fixture
def account(emu: Emulator) -> dict[str, Any]:
    """An open account as the emulator's truth has it (its secrets included)."""
    return next(a for a in emu.truth.accounts() if a["bill_status"] == "O")


@pytest.fixture
def own(api: Api, account: dict[str, Any]) -> Api:
    """`api` logged in as `account` itself, at `Session/login`."""
    answer = api.call("Session/login", {"login": account["login"], "password": account["password"]})
    api.token = answer["access_token"]
    return api


def test_account_login_token_carries_i_account(own: Api, account: dict[str, Any]) -> None:
    claims = _claims(str(own.token))
    assert claims["realm"] == "account"
    assert claims["i_account"] == account["i_account"]
    assert claims["login"] == account["login"]
    assert "i_user" not in claims


def test_account_logs_in_with_its_api_token(api: Api, account: dict[str, Any]) -> None:
    answer = api.call("Session/login", {"login": account["login"], "token": account["api_token"]})
    assert _claims(answer["access_token"])["i_account"] == account["i_account"]


def test_login_to_account_realm(api: Api, account: dict[str, Any]) -> None:
    params = {"login": account["login"], "password": account["password"], "realm": "account"}
    answer = api.call("Session/login_to_realm", params)
    assert _claims(answer["access_token"])["i_account"] == account["i_account"]


def test_account_credentials_do_not_open_the_admin_realm(api: Api, account: dict[str, Any]) -> None:
    params = {"login": account["login"], "password": account["password"], "realm": "admin"}
    assert api.fault("Session/login_to_realm", params) == "Server.Session.auth_failed"


def test_wrong_account_password_is_refused(api: Api, account: dict[str, Any]) -> None:
    params = {"login": account["login"], "password": account["password"] + "x"}
    assert api.fault("Session/login", params) == "Server.Session.auth_failed"


def test_own_account_info_without_an_id(own: Api, account: dict[str, Any]) -> None:
    assert own.call("Account/get_account_info") == {"account_info": account}


def test_another_account_id_still_reads_the_own_account(
    emu: Emulator, own: Api, account: dict[str, Any]
) -> None:
    other = next(a for a in emu.truth.accounts() if a["i_account"] != account["i_account"])
    answer = own.call("Account/get_account_info", {"i_account": other["i_account"]})
    assert answer["account_info"]["i_account"] == account["i_account"]


def test_own_xdrs_without_an_id(own: Api, account: dict[str, Any]) -> None:
    answer = own.call("Account/get_xdr_list", {"get_total": 1})
    assert answer["total"] == 10
    assert {x["i_account"] for x in answer["xdr_list"]} == {account["i_account"]}


@pytest.mark.parametrize(
    "name", ["Account/get_account_list", "Customer/get_customer_list", "Customer/get_customer_xdrs"]
)
def test_admin_methods_are_denied_in_the_account_realm(own: Api, name: str) -> None:
    assert own.fault(name, {"i_customer": 1}) == "Client.check_auth.access_denied"


def test_ping_answers_the_account_as_user(own: Api, account: dict[str, Any]) -> None:
    assert own.call("Session/ping", {"access_token": own.token}) == {
        "user_id": account["i_account"]
    }


def test_customer_realm_reads_its_own_accounts(emu: Emulator, api: Api) -> None:
    customer = emu.truth.customers()[0]
    params = {"login": customer["login"], "password": customer["password"], "realm": "customer"}
    api.token = api.call("Session/login_to_realm", params)["access_token"]
    assert _claims(api.token)["i_customer"] == customer["i_customer"]
    assert api.call("Customer/get_customer_info")["customer_info"] == customer
    listed = api.call("Account/get_account_list", {"i_customer": 2})["account_list"]
    expected = [a for a in emu.truth.accounts() if a["i_customer"] == customer["i_customer"]]
    assert listed == expected
    assert api.fault("Customer/get_customer_list") == "Client.check_auth.access_denied"


def test_reseller_realm_has_no_users(emu: Emulator, api: Api) -> None:
    params = {"login": emu.login, "password": emu.password, "realm": "reseller"}
    assert api.fault("Session/login_to_realm", params) == "Server.Session.auth_failed"
