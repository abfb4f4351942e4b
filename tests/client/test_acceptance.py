"""Acceptance of the client against the bundled emulator over real loopback HTTP (no sleeping)."""

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector import (
    AuthenticationError,
    ClientSettings,
    ConfigurationError,
    FaultError,
    PortaBillingClient,
    TransientError,
)
from connector.emulator import Emulator
from tests.conftest import legacy_for

Factory = Callable[..., PortaBillingClient]


@pytest.fixture
def connect(clock: Any) -> Iterator[Factory]:
    """Clients of an emulator sharing the test's fake clock; closed at teardown."""
    built: list[PortaBillingClient] = []

    def build(emu: Emulator, **options: Any) -> PortaBillingClient:
        settings: dict[str, Any] = {
            "login": emu.login,
            "clock": clock,
            "sleep": clock.sleep,
            "legacy": legacy_for(emu),
        }
        if "api_token" not in options:
            settings["password"] = emu.password
        client = PortaBillingClient(emu.url, **{**settings, **options})
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()


def _first_account(emu: Emulator) -> dict[str, Any]:
    return {"i_account": emu.truth.accounts()[0]["i_account"]}


def _info(client: PortaBillingClient, emu: Emulator) -> dict[str, Any]:
    return client.call("Account", "get_account_info", _first_account(emu))


def _calls_of(emu: Emulator, name: str) -> int:
    return emu.counters.requests.get(name, 0)


def _run_threads(count: int, work: Callable[[], None]) -> list[BaseException]:
    """Run `work` on `count` threads at once; the exceptions they raised."""
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_login_by_password(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu)
    assert _info(client, emu)["account_info"] == emu.truth.accounts()[0]
    assert emu.counters.logins == client.stats.logins == 1


def test_login_by_api_token(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu, api_token=emu.api_token)
    assert "account_info" in _info(client, emu)
    assert emu.counters.logins == 1


def test_legacy_form_mode(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu, legacy=True)
    answer = client.call("Account", "get_account_list", {"limit": 3, "offset": 0, "get_total": 1})
    assert len(answer["account_list"]) == 3 and int(answer["total"]) == 5


def test_sixteen_threads_through_repeated_expiry_refresh_once_each_time(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5, token_lifetime_s=3)
    client = connect(emu, settings=ClientSettings(max_concurrency=16))
    params = _first_account(emu)
    waves, expiries = 6, 5

    def calls() -> None:
        for _ in range(4):
            client.call("Account", "get_account_info", params)

    for wave in range(waves):
        assert _run_threads(16, calls) == []
        if wave < expiries:
            clock.advance(3)
    assert emu.counters.refreshes == client.stats.refreshes == expiries
    assert emu.counters.refresh_failures == 0
    assert emu.counters.logins == 1
    assert emu.counters.faults == 0
    assert _calls_of(emu, "Account/get_account_info") == waves * 16 * 4


def test_killed_sessions_recover_with_one_login_and_one_retry(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu)
    _info(client, emu)
    emu.kill_sessions()
    _info(client, emu)
    assert _calls_of(emu, "Account/get_account_info") == 3
    assert _calls_of(emu, "Session/login") == 2
    assert emu.counters.refresh_failures == 0


def test_killed_sessions_recover_under_threads(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu, settings=ClientSettings(max_concurrency=8))
    _info(client, emu)
    emu.kill_sessions()
    assert _run_threads(8, lambda: _info(client, emu) and None) == []
    assert _calls_of(emu, "Session/login") == 2


def test_random_session_kills_cost_one_login_and_one_retry_each(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    # A kill of the retry itself would surface as SessionRejectedError (one retry, by design);
    # the emulator's kills are seeded, and this seed kills several calls but never a retry.
    emu = make_emulator(clock=clock, accounts=5, session_kill_rate=0.1, seed=4)
    client = connect(emu)
    calls = 60
    for _ in range(calls):
        _info(client, emu)
    kills = emu.counters.logins - 1
    assert kills > 0
    assert _calls_of(emu, "Account/get_account_info") == calls + kills
    assert emu.counters.refresh_failures == 0


def test_wrong_password_fails_after_exactly_one_login(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    client = connect(emu, password="wrong-password")
    for _ in range(3):
        with pytest.raises(AuthenticationError) as caught:
            _info(client, emu)
        assert caught.value.faultcode == "Server.Session.auth_failed"
    assert _calls_of(emu, "Session/login") == 1
    assert client.stats.requests == 1


def test_brute_force_lockout_is_final(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5, brute_force_attempts=2)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            _info(connect(emu, password="wrong-password"), emu)
    locked_out = connect(emu)
    with pytest.raises(AuthenticationError) as caught:
        _info(locked_out, emu)
    assert caught.value.faultcode == "Server.Session.cannot_login_brute_force_activity"
    with pytest.raises(AuthenticationError):
        _info(locked_out, emu)
    assert _calls_of(emu, "Session/login") == 3


def test_transient_errors_are_retried(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5, transient_error_rate=0.3)
    client = connect(emu)
    for _ in range(30):
        _info(client, emu)
    assert emu.counters.transient_errors > 0
    assert client.stats.retries == emu.counters.transient_errors


def test_persistent_proxy_errors_give_a_clear_transient_error(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5, transient_error_rate=1.0)
    with pytest.raises(TransientError) as caught:
        _info(connect(emu, settings=ClientSettings(max_retries=2)), emu)
    assert caught.value.http_status in (502, 503, 504)
    assert "nginx" in str(caught.value) and "gave up after 3 attempts" in str(caught.value)


def test_rate_limit_honours_retry_after(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5, rate_limit_rps=4, retry_after_s=2)
    client = connect(emu)
    for _ in range(20):
        _info(client, emu)
    assert emu.counters.throttled > 0
    assert client.stats.throttled == emu.counters.throttled
    assert emu.counters.retry_after_ignored == 0


def test_rate_limit_under_threads_loses_no_call(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5, rate_limit_rps=10, retry_after_s=1)
    client = connect(emu, settings=ClientSettings(max_concurrency=8))
    failures = _run_threads(8, lambda: [_info(client, emu) for _ in range(10)] and None)
    assert failures == []
    assert emu.counters.throttled > 0
    assert _calls_of(emu, "Account/get_account_info") == 80 + emu.counters.throttled


def test_fault_raises_with_its_faultcode(make_emulator: Any, connect: Factory, clock: Any) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    with pytest.raises(FaultError) as caught:
        connect(emu).call("Account", "get_xdr_list", {"from_date": "yesterday"})
    assert caught.value.faultcode is not None and caught.value.faultcode.startswith("Client.")
    assert caught.value.http_status == 500
    assert _calls_of(emu, "Account/get_xdr_list") == 1


def test_concurrency_is_capped(make_emulator: Any) -> None:
    emu = make_emulator(accounts=5, latency_s=0.01)  # real clock: requests must overlap
    with PortaBillingClient(
        emu.url,
        login=emu.login,
        password=emu.password,
        settings=ClientSettings(max_concurrency=3),
        legacy=legacy_for(emu),
    ) as client:
        assert _run_threads(12, lambda: [_info(client, emu) for _ in range(3)] and None) == []
    assert 1 < emu.counters.max_in_flight <= 3


def test_self_signed_https_is_refused_by_default(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5, https=True)
    with pytest.raises(
        ConfigurationError,
        match=r"^Session/login: TLS: certificate verify failed; set PORTABILLING_CA_BUNDLE ",
    ):
        _info(connect(emu), emu)


def test_self_signed_https_is_accepted_with_its_ca_bundle(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5, https=True)
    assert emu.url.startswith("https://")  # and REQUESTS_CA_BUNDLE, if set, must not override this
    assert "account_info" in _info(connect(emu, verify=emu.ca_file), emu)


def test_requests_ca_bundle_from_the_environment_verifies_when_no_bundle_is_given(
    make_emulator: Any, connect: Factory, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(clock=clock, accounts=5, https=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_file)
    assert "account_info" in _info(connect(emu), emu)


def test_public_key_verifies_the_emulator_tokens(
    make_emulator: Any, connect: Factory, clock: Any
) -> None:
    emu = make_emulator(clock=clock, accounts=5)
    assert "account_info" in _info(connect(emu, public_key=emu.public_key_pem), emu)


def _session_secrets(client: PortaBillingClient) -> set[str]:
    token = client._session._token  # test-only look at what the server issued
    assert token is not None
    return {s for s in (token.access_token, token.refresh_token, token.session_id) if s}


def test_secrets_stay_out_of_logs_errors_and_reprs(
    make_emulator: Any, connect: Factory, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = make_emulator(clock=clock, accounts=5, token_lifetime_s=3)
    client = connect(emu)
    secrets = {emu.password, emu.api_token, "wrong-Password-42"}
    seen: list[str] = [repr(client), repr(client._session), repr(emu)]
    _info(client, emu)
    secrets |= _session_secrets(client)
    clock.advance(3)  # refresh
    _info(client, emu)
    secrets |= _session_secrets(client)
    emu.kill_sessions()  # re-login
    _info(client, emu)
    secrets |= _session_secrets(client)
    seen.append(repr(client._session._token))
    for failing in (
        lambda: connect(emu, password="wrong-Password-42").call("Session", "ping"),
        lambda: client.call("Account", "get_xdr_list", {"i_account": "x"}),
    ):
        with pytest.raises(Exception) as caught:
            failing()
        seen += [str(caught.value), repr(caught.value)]
    client.close()
    text = caplog.text + "\n".join(seen)
    assert "eyJ" not in text
    assert [secret for secret in secrets if secret in text] == []
