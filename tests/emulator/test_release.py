"""The release switch: a legacy (pre-MR101) server takes only the form style and 48-hour tokens."""

import argparse
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.command import add_arguments, config_from
from tests.conftest import FakeClock


@pytest.fixture
def legacy(make_emulator: Callable[..., Emulator], clock: FakeClock) -> Emulator:
    return make_emulator(clock=clock, release="legacy", accounts=5)


def _form(emu: Emulator, name: str, params: dict[str, Any], **auth: Any) -> requests.Response:
    data = {"params": json.dumps(params)}
    if auth:
        data["auth_info"] = json.dumps(auth)
    return requests.post(f"{emu.url}/rest/{name}", data=data, timeout=10)


def _login(emu: Emulator) -> dict[str, Any]:
    answer = _form(emu, "Session/login", {"login": emu.login, "password": emu.password})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _faultcode(answer: requests.Response) -> str:
    assert answer.status_code == 500, answer.text
    code: str = answer.json()["faultcode"]
    return code


def test_legacy_login_gives_48_hour_tokens_without_expires_in(
    legacy: Emulator, clock: FakeClock
) -> None:
    answer = _login(legacy)
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["exp"] == int(clock()) + 172800
    assert answer.keys() == {"access_token", "refresh_token", "expires_at", "session_id"}


def test_legacy_serves_the_form_style(legacy: Emulator) -> None:
    session_id = _login(legacy)["session_id"]
    answer = _form(legacy, "Customer/get_customer_info", {"i_customer": 1}, session_id=session_id)
    assert answer.json()["customer_info"]["i_customer"] == 1


def test_legacy_refuses_json_bodies(legacy: Emulator) -> None:
    body = {"params": {"login": legacy.login, "password": legacy.password}}
    answer = requests.post(f"{legacy.url}/rest/Session/login", json=body, timeout=10)
    assert _faultcode(answer) == "Client.request.malformed"


def test_legacy_ignores_bearer_headers(legacy: Emulator) -> None:
    token = _login(legacy)["access_token"]
    answer = requests.post(
        f"{legacy.url}/rest/Customer/get_customer_info",
        data={"params": json.dumps({"i_customer": 1})},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert _faultcode(answer) == "Client.check_auth.envelope_missed"


@pytest.mark.parametrize("name", ["Session/login_to_realm", "Session/get_access_token_lifetime"])
def test_legacy_does_not_know_realm_methods(legacy: Emulator, name: str) -> None:
    session_id = _login(legacy)["session_id"]
    params = {"login": legacy.login, "password": legacy.password, "realm": "admin"}
    answer = _form(legacy, name, params, session_id=session_id)
    assert _faultcode(answer) == "Server.unknown_method"


def test_current_release_also_serves_the_form_style(
    make_emulator: Callable[..., Emulator], clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, release="current", accounts=5)
    answer = _login(emu)
    assert answer["expires_in"] == 900
    info = _form(
        emu, "Customer/get_customer_info", {"i_customer": 1}, session_id=answer["session_id"]
    )
    assert info.json()["customer_info"]["i_customer"] == 1


def _parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(args))


def test_release_flag_sets_the_release_and_its_lifetime() -> None:
    config = config_from(_parse("--release", "legacy"))
    assert (config.release, config.access_token_lifetime_s) == ("legacy", 172800)
    assert config_from(_parse()).access_token_lifetime_s == 900


def test_token_lifetime_flag_overrides_the_release() -> None:
    config = config_from(_parse("--release", "legacy", "--token-lifetime", "60"))
    assert config.access_token_lifetime_s == 60


def test_unknown_release_is_refused() -> None:
    with pytest.raises(SystemExit):
        _parse("--release", "mr90")
    with pytest.raises(ValueError, match="release"):
        EmulatorConfig(release="mr90")
