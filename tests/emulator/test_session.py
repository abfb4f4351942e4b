"""Session methods: login styles, JWT claims, refresh, ping, logout, expiry, kills."""

from collections.abc import Callable
from datetime import UTC, datetime

import jwt

from connector.emulator import Emulator
from tests.conftest import FakeClock
from tests.emulator.conftest import Api


def test_login_returns_verifiable_rs256_token(emu: Emulator, api: Api, clock: FakeClock) -> None:
    answer = api.login()
    claims = jwt.decode(
        answer["access_token"],
        emu.public_key_pem,
        algorithms=["RS256"],
        audience="portabilling-api",
        options={"verify_exp": False, "verify_iat": False},  # the fake clock is not wall time
    )
    assert claims["jti"] == answer["session_id"]
    assert claims["iat"] == int(clock())
    assert claims["exp"] == int(clock()) + 900
    assert answer["expires_in"] == 900
    assert {"i_user", "i_env", "login", "scopes", "realm", "aud", "is_super_user"} <= claims.keys()
    expires = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert answer["expires_at"] == expires


def test_login_with_api_token(emu: Emulator, api: Api) -> None:
    answer = api.post("Session/login", {"login": emu.login, "token": emu.api_token})
    assert answer.status_code == 200
    assert emu.counters.logins == 2


def test_bad_password_is_auth_failed(emu: Emulator, api: Api) -> None:
    assert (
        api.fault("Session/login", {"login": emu.login, "password": "wrong"})
        == "Server.Session.auth_failed"
    )


def test_repeated_bad_logins_lock_the_login(emu: Emulator, api: Api) -> None:
    for _ in range(5):
        api.fault("Session/login", {"login": emu.login, "password": "wrong"})
    good = {"login": emu.login, "password": emu.password}
    assert api.fault("Session/login", good) == "Server.Session.cannot_login_brute_force_activity"


def test_brute_force_lock_expires_with_the_clock(emu: Emulator, api: Api, clock: FakeClock) -> None:
    for _ in range(5):
        api.fault("Session/login", {"login": emu.login, "password": "wrong"})
    clock.advance(301)
    assert (
        api.post("Session/login", {"login": emu.login, "password": emu.password}).status_code == 200
    )


def test_missing_auth_is_envelope_missed(api: Api) -> None:
    api.token = None
    assert api.fault("Account/get_account_list") == "Client.check_auth.envelope_missed"


def test_garbage_bearer_cannot_be_processed(api: Api) -> None:
    fault = api.fault("Account/get_account_list", token="not-a-jwt")
    assert fault == "Client.Session.check_auth.failed_to_process_access_token"


def test_token_expires_on_the_clock(emu: Emulator, api: Api, clock: FakeClock) -> None:
    clock.advance(900)
    assert (
        api.fault("Account/get_account_list", {"limit": 1})
        == "Server.Session.check_auth.auth_failed"
    )


def test_refresh_token_is_single_use(emu: Emulator, api: Api, clock: FakeClock) -> None:
    spent = api.login()["refresh_token"]
    clock.advance(100)
    fresh = api.call("Session/refresh_access_token", {"refresh_token": spent})
    assert "session_id" not in fresh
    assert fresh["access_token"] != api.token
    code = api.fault("Session/refresh_access_token", {"refresh_token": spent})
    assert code == "Server.Session.refresh_access_token.refresh_failed"
    assert (emu.counters.refreshes, emu.counters.refresh_failures) == (1, 1)
    api.token = fresh["access_token"]
    assert api.call("Account/get_account_list", {"limit": 1})["account_list"]


def test_ping_and_logout(api: Api) -> None:
    token = api.token
    assert api.call("Session/ping", {"access_token": token}) == {"user_id": 1}
    assert api.call("Session/logout", {"access_token": token}) == {"success": 1}
    assert api.call("Session/ping", {"access_token": token}) == {"user_id": 0}
    assert api.fault("Account/get_account_list") == "Server.Session.check_auth.auth_failed"


def test_kill_sessions_rejects_live_tokens(emu: Emulator, api: Api) -> None:
    emu.kill_sessions()
    assert api.fault("Account/get_account_list") == "Server.Session.check_auth.auth_failed"
    api.login()
    assert api.call("Account/get_account_list", {"limit": 1})["account_list"]


def test_secrets_stay_out_of_reprs(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(password="pw-SECRET-1", api_token="tok-SECRET-2")
    assert "SECRET" not in repr(emu)
    assert "SECRET" not in repr(emu.config)
