"""Realm logins and the reported token lifetime, end to end against the bundled emulator."""

from collections.abc import Callable
from typing import Any

import pytest

from connector import ClientSettings, PortaBillingClient
from connector.emulator import Emulator

LIFETIME = "Session/get_access_token_lifetime"


@pytest.fixture
def current(make_emulator: Callable[..., Emulator], clock: Any) -> Callable[..., Emulator]:
    """Emulators of a current release (the realm methods exist) on the test's fake clock."""
    return lambda **config: make_emulator(clock=clock, release="current", accounts=5, **config)


def _client(emu: Emulator, clock: Any, **options: Any) -> PortaBillingClient:
    settings = {"login": emu.login, "password": emu.password, "clock": clock, "sleep": clock.sleep}
    return PortaBillingClient(emu.url, **{**settings, **options})


def _requests(emu: Emulator, name: str) -> int:
    return emu.counters.requests.get(name, 0)


def test_an_account_reads_its_own_data_through_its_realm(
    current: Callable[..., Emulator], clock: Any
) -> None:
    emu = current()
    account = next(a for a in emu.truth.accounts() if a["bill_status"] == "O")
    options = {"login": account["login"], "password": account["password"], "realm": "account"}
    with _client(emu, clock, **options) as client:
        info = client.call("Account", "get_account_info")["account_info"]
    assert info["i_account"] == account["i_account"]
    assert (_requests(emu, "Session/login_to_realm"), _requests(emu, "Session/login")) == (1, 0)
    assert _requests(emu, LIFETIME) == 1
    assert emu.counters.faults == 0


def test_900_second_tokens_are_refreshed_at_600_seconds(
    current: Callable[..., Emulator], clock: Any
) -> None:
    emu = current()
    with _client(emu, clock, settings=ClientSettings(refresh_margin_s=600.0)) as client:
        client.call("Account", "get_account_list", {"limit": 1})
        clock.advance(599)
        client.call("Account", "get_account_list", {"limit": 1})
        assert emu.counters.refreshes == 0
        clock.advance(2)
        client.call("Account", "get_account_list", {"limit": 1})
        assert emu.counters.refreshes == 1
        assert client.stats.requests == 6  # login, lifetime, three calls, one refresh


def test_60_second_tokens_are_not_refreshed_before_40_seconds(
    current: Callable[..., Emulator], clock: Any
) -> None:
    emu = current(token_lifetime_s=60)
    with _client(emu, clock, settings=ClientSettings(refresh_margin_s=300.0)) as client:
        client.call("Account", "get_account_list", {"limit": 1})
        for _ in range(3):
            clock.advance(13)  # 39 s: the old rule refreshed from half the life (30 s) on
            client.call("Account", "get_account_list", {"limit": 1})
        assert emu.counters.refreshes == 0
        clock.advance(2)
        client.call("Account", "get_account_list", {"limit": 1})
        assert emu.counters.refreshes == 1
