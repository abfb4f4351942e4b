"""Fault and latency knobs, each over real HTTP."""

import threading
import time
from collections.abc import Callable

import pytest

from connector.emulator import Emulator
from tests.conftest import FakeClock
from tests.emulator.conftest import Api

MakeEmulator = Callable[..., Emulator]
MakeApi = Callable[[Emulator], Api]


def test_transient_errors_are_html_502_503_504(
    make_emulator: MakeEmulator, make_api: MakeApi
) -> None:
    emu = make_emulator(transient_error_rate=1.0)
    api = make_api(emu)
    answers = [api.post("Session/ping", {"access_token": "x"}) for _ in range(20)]
    assert {a.status_code for a in answers} <= {502, 503, 504}
    assert len({a.status_code for a in answers}) > 1
    assert all(a.headers["Content-Type"].startswith("text/html") for a in answers)
    assert emu.counters.transient_errors == 20


def test_transient_rate_is_live_and_partial(emu: Emulator, api: Api) -> None:
    emu.config.transient_error_rate = 0.5
    statuses = [api.post("Session/ping", {"access_token": "x"}).status_code for _ in range(200)]
    assert 50 < statuses.count(200) < 150
    emu.config.transient_error_rate = 0.0
    assert api.post("Session/ping", {"access_token": "x"}).status_code == 200


def test_rate_limit_answers_429_with_retry_after(
    make_emulator: MakeEmulator, make_api: MakeApi, clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, rate_limit_rps=3, retry_after_s=2)
    api = make_api(emu)
    statuses = [api.post("Session/ping", {"access_token": "x"}).status_code for _ in range(3)]
    throttled = api.post("Session/ping", {"access_token": "x"})
    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert emu.counters.throttled == 1


def test_request_inside_retry_after_is_counted_as_ignored(
    make_emulator: MakeEmulator, make_api: MakeApi, clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, rate_limit_rps=1, retry_after_s=2)
    api = make_api(emu)
    api.login()
    clock.advance(1)
    assert api.post("Account/get_account_list", {"limit": 1}).status_code == 200
    assert api.post("Account/get_account_list", {"limit": 1}).status_code == 429
    clock.advance(1)
    api.post("Account/get_account_list", {"limit": 1})
    assert emu.counters.retry_after_ignored == 1
    clock.advance(1)
    assert api.post("Account/get_account_list", {"limit": 1}).status_code == 200
    assert emu.counters.retry_after_ignored == 1


def test_another_connection_inside_retry_after_is_not_blamed(
    make_emulator: MakeEmulator, make_api: MakeApi, clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, rate_limit_rps=1, retry_after_s=2)
    first, second = make_api(emu), make_api(emu)
    first.login()
    second.token = first.token
    clock.advance(1)
    first.post("Account/get_account_list", {"limit": 1})
    assert first.post("Account/get_account_list", {"limit": 1}).status_code == 429
    second.post("Account/get_account_list", {"limit": 1})
    assert emu.counters.retry_after_ignored == 0


def test_new_clock_second_opens_a_new_window(
    make_emulator: MakeEmulator, make_api: MakeApi, clock: FakeClock
) -> None:
    emu = make_emulator(clock=clock, rate_limit_rps=1)
    api = make_api(emu)
    api.post("Session/ping", {"access_token": "x"})
    clock.advance(1)
    assert api.post("Session/ping", {"access_token": "x"}).status_code == 200


def test_session_kill_rate_kills_before_exp(make_emulator: MakeEmulator, make_api: MakeApi) -> None:
    emu = make_emulator(session_kill_rate=1.0)
    api = make_api(emu)
    api.login()
    assert (
        api.fault("Account/get_account_list", {"limit": 1})
        == "Server.Session.check_auth.auth_failed"
    )
    emu.config.session_kill_rate = 0.0
    assert (
        api.fault("Account/get_account_list", {"limit": 1})
        == "Server.Session.check_auth.auth_failed"
    )
    api.login()
    assert api.call("Account/get_account_list", {"limit": 1})["account_list"]


def test_total_as_string(make_emulator: MakeEmulator, make_api: MakeApi) -> None:
    api = make_api(make_emulator(total_as_string=True))
    api.login()
    assert api.call("Account/get_account_list", {"limit": 1, "get_total": 1})["total"] == "200"
    assert api.call("Customer/get_customer_list", {"get_total": 1})["total"] == "20"


def test_token_lifetime_knob(
    make_emulator: MakeEmulator, make_api: MakeApi, clock: FakeClock
) -> None:
    api = make_api(make_emulator(clock=clock, token_lifetime_s=60))
    api.login()
    clock.advance(59)
    assert api.call("Account/get_account_list", {"limit": 1})["account_list"]
    clock.advance(1)
    assert (
        api.fault("Account/get_account_list", {"limit": 1})
        == "Server.Session.check_auth.auth_failed"
    )


def test_latency_is_added_per_request(make_emulator: MakeEmulator, make_api: MakeApi) -> None:
    api = make_api(make_emulator(latency_s=0.05))
    begin = time.perf_counter()
    api.post("Session/ping", {"access_token": "x"})
    assert time.perf_counter() - begin >= 0.05


def test_churn_shifts_offsets_but_keeps_survivor_order(
    make_emulator: MakeEmulator, make_api: MakeApi
) -> None:
    emu = make_emulator(churn_per_page=5)
    api = make_api(emu)
    api.login()
    before = [a["i_account"] for a in emu.truth.accounts()]
    seen: list[int] = []
    for offset in range(0, 200, 50):
        page = api.call("Account/get_account_list", {"limit": 50, "offset": offset})["account_list"]
        seen += [a["i_account"] for a in page]
    after = [a["i_account"] for a in emu.truth.accounts()]
    assert len(after) == 200
    assert set(before) - set(after) and set(after) - set(before)
    survivors = [key for key in before if key in set(after)]
    assert [key for key in after if key in set(before)] == survivors
    assert set(seen) != set(after) or len(seen) != len(set(seen))


def test_max_in_flight_counts_concurrent_requests(
    make_emulator: MakeEmulator, make_api: MakeApi
) -> None:
    emu = make_emulator(latency_s=0.2)
    apis = [make_api(emu) for _ in range(4)]
    threads = [
        threading.Thread(target=a.post, args=("Session/ping", {"access_token": "x"})) for a in apis
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emu.counters.max_in_flight == 4
    assert emu.counters.in_flight == 0
    assert emu.counters.requests["Session/ping"] == 4


def test_reset_counters(emu: Emulator, api: Api) -> None:
    api.fault("Session/login", {"login": "x", "password": "y"})
    emu.reset_counters()
    assert (emu.counters.total_requests, emu.counters.faults, emu.counters.requests) == (0, 0, {})


@pytest.mark.parametrize("field", ["transient_error_rate", "session_kill_rate"])
def test_rates_outside_zero_one_are_refused(make_emulator: MakeEmulator, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make_emulator(**{field: 1.5})
