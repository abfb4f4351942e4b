"""`Generic/get_version`, `Env/get_env_info` and logout faults, as WebTrit's adapter reads them."""

from collections.abc import Callable

from connector import PortaBillingClient
from connector.emulator import Emulator
from tests.conftest import FakeClock
from tests.emulator.conftest import Api

LOGOUT_FAULT = "Client.Session.logout.failed_to_process_access_token"


def test_get_version_names_the_current_release(api: Api) -> None:
    assert api.call("Generic/get_version") == {"version": "MR119-2"}


def test_get_version_names_a_legacy_release(
    make_emulator: Callable[..., Emulator], clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, release="legacy", accounts=1)
    with PortaBillingClient(emu.url, login=emu.login, password=emu.password, legacy=True) as pb:
        assert pb.call("Generic", "get_version", {}) == {"version": "MR100-4"}


def test_get_version_needs_a_session(api: Api) -> None:
    api.token = None
    assert api.fault("Generic/get_version") == "Client.check_auth.envelope_missed"


def test_env_info_is_an_object_with_an_id(api: Api) -> None:
    info = api.call("Env/get_env_info")["env_info"]
    assert info["i_env"] == 1
    assert {"name", "email"} <= info.keys()


def test_logout_of_a_logged_out_token_faults(api: Api) -> None:
    token = api.token
    assert api.call("Session/logout", {"access_token": token}) == {"success": 1}
    assert api.fault("Session/logout", {"access_token": token}) == LOGOUT_FAULT


def test_logout_of_garbage_faults(api: Api) -> None:
    assert api.fault("Session/logout", {"access_token": "not-a-jwt"}) == LOGOUT_FAULT
    assert api.fault("Session/logout", {}) == LOGOUT_FAULT


def test_client_closes_cleanly_when_its_logout_faults(emu: Emulator, clock: FakeClock) -> None:
    client = PortaBillingClient(
        emu.url, login=emu.login, password=emu.password, clock=clock, sleep=clock.sleep
    )
    client.call("Generic", "get_version", {})
    emu.kill_sessions()
    faults_before = emu.counters.faults
    client.close()
    assert emu.counters.requests["Session/logout"] == 1
    assert emu.counters.faults == faults_before + 1
