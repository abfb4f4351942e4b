"""`Session/login_to_realm` and `Session/get_access_token_lifetime` (wire shapes are guesses)."""

from collections.abc import Callable

import jwt

from connector.emulator import Emulator
from tests.emulator.conftest import Api

LOGIN_FIELDS = {"access_token", "refresh_token", "expires_at", "expires_in", "session_id"}


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_login_to_admin_realm_answers_as_login(emu: Emulator, api: Api) -> None:
    params = {"login": emu.login, "password": emu.password, "realm": "admin"}
    answer = api.call("Session/login_to_realm", params)
    assert answer.keys() == LOGIN_FIELDS
    assert answer["expires_in"] == 900
    assert _claims(answer["access_token"])["realm"] == "admin"
    api.token = answer["access_token"]
    assert api.call("Account/get_account_list", {"limit": 1})["account_list"]


def test_login_to_realm_takes_the_api_token(emu: Emulator, api: Api) -> None:
    params = {"login": emu.login, "token": emu.api_token, "realm": "admin"}
    assert "access_token" in api.call("Session/login_to_realm", params)


def test_unknown_realm_is_a_fault(emu: Emulator, api: Api) -> None:
    params = {"login": emu.login, "password": emu.password, "realm": "operator"}
    assert api.fault("Session/login_to_realm", params) == "Client.login_to_realm.invalid_param"
    assert api.fault("Session/login_to_realm", {"login": emu.login, "password": emu.password})


def test_admin_credentials_do_not_open_the_account_realm(emu: Emulator, api: Api) -> None:
    params = {"login": emu.login, "password": emu.password, "realm": "account"}
    assert api.fault("Session/login_to_realm", params) == "Server.Session.auth_failed"


def test_access_token_lifetime_is_the_default(api: Api) -> None:
    assert api.call("Session/get_access_token_lifetime") == {"access_token_lifetime": 900}


def test_access_token_lifetime_follows_the_knob(
    make_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    api = make_api(make_emulator(token_lifetime_s=60, release="current"))
    answer = api.login()
    assert answer["expires_in"] == 60
    assert api.call("Session/get_access_token_lifetime") == {"access_token_lifetime": 60}


def test_access_token_lifetime_needs_a_session(api: Api) -> None:
    api.token = None
    code = api.fault("Session/get_access_token_lifetime")
    assert code == "Client.check_auth.envelope_missed"


def test_refresh_answer_carries_expires_in(api: Api) -> None:
    spent = api.login()["refresh_token"]
    fresh = api.call("Session/refresh_access_token", {"refresh_token": spent})
    assert fresh["expires_in"] == 900
