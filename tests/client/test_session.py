"""Session handling over loopback HTTP: login, expiry, refresh rotation, re-login, refusals."""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from connector import (
    AuthenticationError,
    ClientSettings,
    PortaBillingClient,
    SessionRejectedError,
)
from connector.api.client import MAX_SESSION_RECOVERIES

from .conftest import PASSWORD, public_pem, session_reply
from .scripted import Reply, ScriptedServer, fault

OK = Reply(200, {"account_info": {"i_account": 1}})
CALL = ("Account", "get_account_info", {"i_account": 1})
KILLED = fault("Server.Session.check_auth.auth_failed", "session expired")
Factory = Callable[..., PortaBillingClient]
Signer = Callable[..., str]


@pytest.fixture(autouse=True)
def answers(server: ScriptedServer) -> None:
    server.script("Account/get_account_info", OK)


def _sent_params(server: ScriptedServer, name: str) -> list[dict[str, Any]]:
    return [json.loads(r.body)["params"] for r in server.received if r.path == f"/rest/{name}"]


def test_login_with_password(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Session/login", session_reply("at-1"))
    make_client().call(*CALL)
    assert _sent_params(server, "Session/login") == [{"login": "api", "password": PASSWORD}]


def test_login_with_api_token(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Session/login", session_reply("at-1"))
    make_client(password=None, api_token="tok-123").call(*CALL)
    assert _sent_params(server, "Session/login") == [{"login": "api", "token": "tok-123"}]


def test_login_is_lazy_and_happens_once(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Session/login", session_reply("at-1"))
    client = make_client()
    assert server.count("Session/login") == 0
    for _ in range(3):
        client.call(*CALL)
    assert server.count("Session/login") == 1
    assert client.stats.logins == 1


def test_refreshes_before_jwt_expiry_with_the_newest_refresh_token(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    now = clock()
    server.script("Session/login", session_reply(sign(now + 100), "rt-1"))
    server.script(
        "Session/refresh_access_token",
        session_reply(sign(now + 200), "rt-2"),
        session_reply(sign(now + 300), "rt-3"),
    )
    client = make_client(settings=ClientSettings(refresh_margin_s=10.0))
    client.call(*CALL)
    clock.advance(89)
    client.call(*CALL)
    assert server.count("Session/refresh_access_token") == 0
    clock.advance(2)  # now inside the margin
    client.call(*CALL)
    clock.advance(100)
    client.call(*CALL)
    assert _sent_params(server, "Session/refresh_access_token") == [
        {"refresh_token": "rt-1"},
        {"refresh_token": "rt-2"},
    ]
    assert (client.stats.logins, client.stats.refreshes) == (1, 2)


@pytest.mark.parametrize(
    "expiry", [{"expires_at": "2026-05-28 20:28:20"}, {"expires_in": 100}], ids=["at", "in"]
)
def test_expiry_falls_back_to_the_answer_fields(
    expiry: dict[str, Any], server: ScriptedServer, make_client: Factory, clock: Any
) -> None:
    assert clock() + 100 == 1_780_000_100  # 2026-05-28 20:28:20 UTC
    server.script("Session/login", session_reply("opaque-1", **expiry))
    server.script("Session/refresh_access_token", session_reply("opaque-2", "rt-2", **expiry))
    client = make_client(settings=ClientSettings(refresh_margin_s=10.0))
    client.call(*CALL)
    clock.advance(85)
    client.call(*CALL)
    assert server.count("Session/refresh_access_token") == 0
    clock.advance(10)
    client.call(*CALL)
    assert server.count("Session/refresh_access_token") == 1


def test_short_tokens_are_not_refreshed_in_their_first_half(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    server.script("Session/login", session_reply(sign(clock() + 4)))
    client = make_client(settings=ClientSettings(refresh_margin_s=60.0))
    client.call(*CALL)
    clock.advance(1.9)
    client.call(*CALL)
    assert server.count("Session/refresh_access_token") == 0


def test_killed_session_logs_in_again_and_retries_once(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    server.script(
        "Session/login", session_reply(sign(clock() + 100), "rt-1"), session_reply("at-2")
    )
    server.script("Account/get_account_info", KILLED, OK)
    client = make_client()
    assert client.call(*CALL) == OK.body
    assert server.count("Account/get_account_info") == 2
    assert server.received[-1].headers["Authorization"] == "Bearer at-2"
    assert (client.stats.logins, client.stats.refreshes) == (2, 0)


def test_token_rejected_once_due_is_refreshed(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    server.script("Session/login", session_reply(sign(clock() + 100), "rt-1"))
    server.script("Session/refresh_access_token", session_reply("at-2", "rt-2"))
    slow_then_rejected = Reply(**{**vars(KILLED), "before": lambda: clock.advance(95)})
    server.script("Account/get_account_info", slow_then_rejected, OK)
    client = make_client(settings=ClientSettings(refresh_margin_s=10.0))
    client.call(*CALL)
    assert server.received[-1].headers["Authorization"] == "Bearer at-2"
    assert (client.stats.logins, client.stats.refreshes) == (1, 1)


def test_refused_refresh_falls_back_to_login(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    server.script("Session/login", session_reply(sign(clock() + 100)), session_reply("at-2"))
    server.script(
        "Session/refresh_access_token", fault("Server.Session.refresh_access_token.refresh_failed")
    )
    client = make_client()
    client.call(*CALL)
    clock.advance(100)
    client.call(*CALL)
    assert server.count("Session/refresh_access_token") == 1
    assert server.count("Session/login") == 2
    assert server.received[-1].headers["Authorization"] == "Bearer at-2"


def test_a_session_rejected_after_every_renewal_is_raised_after_bounded_retries(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login", session_reply("at-1"))
    server.script("Session/refresh_access_token", session_reply("at-2"))
    server.script("Account/get_account_info", KILLED)
    with pytest.raises(SessionRejectedError):
        make_client().call(*CALL)
    assert server.count("Account/get_account_info") == MAX_SESSION_RECOVERIES + 1
    assert server.count("Session/login") == MAX_SESSION_RECOVERIES + 1


def test_a_session_lost_again_after_each_transient_retry_is_recovered_each_time(
    server: ScriptedServer, make_client: Factory
) -> None:
    """A backoff can outlive a token: only losses in a row count against the call."""
    server.script("Session/login", session_reply("at-1"))
    unavailable = Reply(503, {})
    losses_between_retries = [KILLED, unavailable] * MAX_SESSION_RECOVERIES
    server.script("Account/get_account_info", *losses_between_retries, KILLED, OK)
    client = make_client()
    assert client.call(*CALL) == OK.body
    assert server.count("Session/login") == MAX_SESSION_RECOVERIES + 2


@pytest.mark.parametrize(
    "code",
    [
        "Server.Session.auth_failed",
        "Server.Session.cannot_login_brute_force_activity",
        "Server.Session.alert_You_must_change_password",
    ],
)
def test_refused_credentials_are_final_after_one_login(
    code: str, server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login", fault(code, "refused"))
    client = make_client()
    for _ in range(3):
        with pytest.raises(AuthenticationError) as caught:
            client.call(*CALL)
        assert caught.value.faultcode == code
    assert server.count("Session/login") == 1
    assert server.count("Account/get_account_info") == 0


def test_concurrent_callers_share_one_refused_login(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login", fault("Server.Session.auth_failed", "bad password"))
    client = make_client()
    failures: list[BaseException] = []

    def call() -> None:
        try:
            client.call(*CALL)
        except AuthenticationError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(failures) == 8
    assert server.count("Session/login") == 1


def test_concurrent_callers_share_one_refresh(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    now = clock()
    server.script("Session/login", session_reply(sign(now + 10), "rt-1"))
    server.script("Session/refresh_access_token", session_reply(sign(now + 100), "rt-2"))
    client = make_client(settings=ClientSettings(refresh_margin_s=1.0, max_concurrency=16))
    client.call(*CALL)
    clock.advance(10)
    threads = [threading.Thread(target=client.call, args=CALL) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.count("Session/refresh_access_token") == 1
    assert server.count("Account/get_account_info") == 17


def test_token_signed_by_another_key_is_refused(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer, rsa_key: Any
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = sign(clock() + 100, key=stranger)
    server.script("Session/login", session_reply(forged))
    client = make_client(public_key=public_pem(rsa_key))
    with pytest.raises(AuthenticationError, match="signature") as caught:
        client.call(*CALL)
    assert forged not in str(caught.value) and forged not in repr(caught.value)
    assert server.count("Account/get_account_info") == 0


def test_token_signed_by_the_server_key_is_accepted(
    server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer, rsa_key: Any
) -> None:
    server.script("Session/login", session_reply(sign(clock() + 100)))
    assert make_client(public_key=public_pem(rsa_key)).call(*CALL) == OK.body


def test_close_logs_out_once(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Session/login", session_reply("at-1"))
    client = make_client()
    with client:
        client.call(*CALL)
    client.close()
    assert _sent_params(server, "Session/logout") == [{"access_token": "at-1"}]


def test_close_without_login_sends_nothing(server: ScriptedServer, make_client: Factory) -> None:
    make_client().close()
    assert server.received == []


def test_close_during_an_outage_tries_logout_once(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login", session_reply("at-1"))
    server.script("Session/logout", Reply(503, b"down"))
    client = make_client()
    client.call(*CALL)
    client.close()
    assert server.count("Session/logout") == 1
