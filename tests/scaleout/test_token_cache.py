"""The token cache: processes of a run share one session, stored privately and encrypted."""

import logging
import os
import stat
import time

import pytest

from connector.api.client import PortaBillingClient
from connector.api.settings import ClientSettings
from connector.api.token_cache import STALE_AFTER_S, TokenCache
from tests.conftest import legacy_for

LIFETIME_S = 600


@pytest.fixture
def emu(make_emulator, clock):
    return make_emulator(clock=clock, customers=2, accounts=5, token_lifetime_s=LIFETIME_S)


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def new_cache(emu, state, clock, *, scope="run-1", secret=None):
    """A cache object of its own, as another process would open it."""
    return TokenCache(
        emu.url, emu.login, secret or emu.password, scope=scope, state_dir=state, clock=clock
    )


def new_client(emu, cache, clock):
    return PortaBillingClient(
        emu.url,
        login=emu.login,
        password=emu.password,
        token_cache=cache,
        settings=ClientSettings(refresh_margin_s=60),
        clock=clock,
        sleep=clock.sleep,
        legacy=legacy_for(emu),
    )


def list_accounts(client):
    return client.call("Account", "get_account_list", {"limit": 2})


def logouts(emu):
    return emu.counters.requests.get("Session/logout", 0)


@pytest.fixture
def two_processes(emu, state, clock):
    """Two clients with caches of their own on one entry, both past their first call."""
    clients = [new_client(emu, new_cache(emu, state, clock), clock) for _ in range(2)]
    for client in clients:
        list_accounts(client)
    return clients


def test_second_process_adopts_the_session(emu, two_processes):
    assert emu.counters.logins == 1


def test_one_refresh_per_expiry_across_processes(emu, clock, two_processes):
    first, second = two_processes
    clock.advance(LIFETIME_S - 30)
    list_accounts(first)
    list_accounts(second)
    assert (emu.counters.logins, emu.counters.refreshes) == (1, 1)
    assert emu.counters.refresh_failures == 0


def test_killed_session_is_renewed_once_for_everyone(emu, two_processes):
    first, second = two_processes
    emu.kill_sessions()
    list_accounts(first)
    list_accounts(second)
    assert emu.counters.logins == 2


def test_other_runs_get_their_own_session(emu, state, clock):
    list_accounts(new_client(emu, new_cache(emu, state, clock, scope="run-1"), clock))
    list_accounts(new_client(emu, new_cache(emu, state, clock, scope="run-2"), clock))
    assert emu.counters.logins == 2


def test_entry_is_private_and_holds_no_secret_in_clear(emu, state, clock):
    cache = new_cache(emu, state, clock)
    list_accounts(new_client(emu, cache, clock))
    with open(cache.path, "rb") as handle:
        sealed = handle.read()
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(cache.path)).st_mode) == 0o700
    for clear_text in (emu.password.encode(), b"eyJ", b"refresh", b"access_token"):
        assert clear_text not in sealed


def test_other_credentials_cannot_read_the_entry(emu, state, clock):
    list_accounts(new_client(emu, new_cache(emu, state, clock), clock))
    assert new_cache(emu, state, clock, secret="not-the-password").load() is None


def test_closing_a_step_keeps_the_shared_session(emu, state, clock):
    cache = new_cache(emu, state, clock)
    with new_client(emu, cache, clock) as client:
        list_accounts(client)
    assert logouts(emu) == 0
    assert cache.load() is not None


def test_ending_the_run_logs_out_once_and_forgets_the_entry(emu, state, clock):
    cache = new_cache(emu, state, clock)
    with new_client(emu, cache, clock) as client:
        list_accounts(client)
    new_client(emu, new_cache(emu, state, clock), clock).close(end_shared_session=True)
    assert logouts(emu) == 1
    assert cache.load() is None


def test_ending_a_run_without_a_session_sends_nothing(emu, state, clock):
    new_client(emu, new_cache(emu, state, clock), clock).close(end_shared_session=True)
    assert emu.counters.total_requests == 0


@pytest.mark.parametrize(
    ("age_s", "is_kept"), [(STALE_AFTER_S - 60, True), (STALE_AFTER_S + 60, False)]
)
def test_entries_of_long_gone_runs_are_removed(emu, state, clock, age_s, is_kept):
    cache = new_cache(emu, state, clock)
    list_accounts(new_client(emu, cache, clock))

    def later() -> float:
        return time.time() + age_s  # file times are real, so the sweep's clock is real too

    TokenCache(emu.url, emu.login, emu.password, scope="run-9", state_dir=state, clock=later)
    assert os.path.exists(cache.path) == is_kept


def _folder(path):
    os.mkdir(path)


def _folder_with_content(path):
    os.mkdir(path)
    with open(os.path.join(path, "keep"), "w") as handle:
        handle.write("x")


def _garbage(path):
    with open(path, "wb") as handle:
        handle.write(os.urandom(64))


def _fifo(path):
    os.mkfifo(path, 0o600)


def _symlink_loop(path):
    os.symlink(path, path)  # opening it fails (ELOOP), whoever runs the test


def _no_permission(path):
    _garbage(path)
    os.chmod(path, 0)


UNREADABLE = {
    "folder": _folder,
    "folder-with-content": _folder_with_content,
    "garbage": _garbage,
    "fifo": _fifo,
    "symlink-loop": _symlink_loop,
    "no-permission": _no_permission,
}


@pytest.mark.parametrize("make_entry", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_entry_is_a_miss_with_one_warning(emu, state, clock, caplog, make_entry):
    cache = new_cache(emu, state, clock)
    make_entry(cache.path)
    client = new_client(emu, cache, clock)
    with caplog.at_level(logging.WARNING, logger="connector.api.token_cache"):
        list_accounts(client)
        clock.advance(LIFETIME_S)  # the refresh reads the entry again
        list_accounts(client)
    warnings = [r.getMessage() for r in caplog.records if r.name == "connector.api.token_cache"]
    assert len(warnings) == 1
    assert cache.path in warnings[0]
    assert emu.password not in warnings[0] and "eyJ" not in warnings[0]
    assert emu.counters.logins == 1


@pytest.mark.parametrize(
    "make_entry",
    [f for name, f in UNREADABLE.items() if name != "folder-with-content"],
    ids=[name for name in UNREADABLE if name != "folder-with-content"],
)
def test_an_unreadable_entry_is_replaced(emu, state, clock, make_entry):
    cache = new_cache(emu, state, clock)
    make_entry(cache.path)
    list_accounts(new_client(emu, cache, clock))
    list_accounts(new_client(emu, new_cache(emu, state, clock), clock))
    assert stat.S_ISREG(os.lstat(cache.path).st_mode)
    assert emu.counters.logins == 1  # the second process adopted the replaced entry


def test_an_entry_that_cannot_be_replaced_leaves_each_process_its_own_session(emu, state, clock):
    cache = new_cache(emu, state, clock)
    _folder_with_content(cache.path)
    for _ in range(2):
        list_accounts(new_client(emu, new_cache(emu, state, clock), clock))
    assert emu.counters.logins == 2
    assert os.path.isdir(cache.path)
