"""Legacy request style: form-encoded or multipart `auth_info` / `params` JSON strings."""

import json

import requests

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def _form(
    api: Api, name: str, auth_info: dict[str, object], params: dict[str, object]
) -> requests.Response:
    data = {"auth_info": json.dumps(auth_info), "params": json.dumps(params)}
    return api.http.post(f"{api.emulator.url}/rest/{name}", data=data, timeout=10)


def _multipart(
    api: Api, name: str, auth_info: dict[str, object], params: dict[str, object]
) -> requests.Response:
    files = {"auth_info": (None, json.dumps(auth_info)), "params": (None, json.dumps(params))}
    return api.http.post(f"{api.emulator.url}/rest/{name}", files=files, timeout=10)


def test_form_with_session_id(emu: Emulator, api: Api) -> None:
    session_id = api.login()["session_id"]
    account = emu.truth.accounts()[0]
    answer = _form(
        api,
        "Account/get_account_info",
        {"session_id": session_id},
        {"i_account": account["i_account"]},
    )
    assert answer.json() == {"account_info": account}


def test_form_with_access_token(api: Api) -> None:
    token = api.login()["access_token"]
    answer = _form(api, "Customer/get_customer_info", {"access_token": token}, {"i_customer": 1})
    assert answer.json()["customer_info"]["i_customer"] == 1


def test_multipart_with_session_id(api: Api) -> None:
    session_id = api.login()["session_id"]
    answer = _multipart(api, "Account/get_account_list", {"session_id": session_id}, {"limit": 3})
    assert len(answer.json()["account_list"]) == 3


def test_multipart_with_access_token(api: Api) -> None:
    token = api.login()["access_token"]
    answer = _multipart(api, "Customer/get_customer_list", {"access_token": token}, {"limit": 2})
    assert len(answer.json()["customer_list"]) == 2


def test_form_with_login_and_password_per_call(emu: Emulator, api: Api) -> None:
    auth = {"login": emu.login, "password": emu.password}
    assert _form(api, "Account/get_account_list", auth, {"limit": 1}).status_code == 200
    auth["password"] = "wrong"
    assert (
        _form(api, "Account/get_account_list", auth, {"limit": 1}).json()["faultcode"]
        == "Server.Session.auth_failed"
    )


def test_form_login_then_stale_session_id(emu: Emulator, api: Api) -> None:
    session_id = api.login()["session_id"]
    emu.kill_sessions()
    answer = _form(api, "Account/get_account_list", {"session_id": session_id}, {})
    assert (answer.status_code, answer.json()["faultcode"]) == (
        500,
        "Server.Session.check_auth.auth_failed",
    )


def test_form_login_method(emu: Emulator, api: Api) -> None:
    data = {"params": json.dumps({"login": emu.login, "password": emu.password})}
    answer = api.http.post(f"{emu.url}/rest/Session/login", data=data, timeout=10)
    assert {"access_token", "refresh_token", "expires_at", "session_id"} <= answer.json().keys()
