"""Realm logins and the token lifetime the server reports, over loopback HTTP."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from connector import ClientSettings, PortaBillingClient
from connector.dagster_defs.resources import PortaBillingResource

from .conftest import PASSWORD, session_reply
from .scripted import Reply, ScriptedServer, fault

OK = Reply(200, {"account_info": {"i_account": 1}})
CALL = ("Account", "get_account_info", {"i_account": 1})
LIFETIME = "Session/get_access_token_lifetime"
Factory = Callable[..., PortaBillingClient]
Signer = Callable[..., str]


@pytest.fixture(autouse=True)
def answers(server: ScriptedServer) -> None:
    server.script("Account/get_account_info", OK)


def _lifetime(seconds: Any) -> Reply:
    return Reply(200, {"access_token_lifetime": seconds})


def _refreshes(server: ScriptedServer) -> int:
    return server.count("Session/refresh_access_token")


def _first_refresh_between(
    client: PortaBillingClient, server: ScriptedServer, clock: Any, quiet_s: float, due_s: float
) -> None:
    """Logged in now: no refresh by `quiet_s` seconds later, one by `due_s`."""
    client.call(*CALL)
    clock.advance(quiet_s)
    client.call(*CALL)
    assert _refreshes(server) == 0
    clock.advance(due_s - quiet_s)
    client.call(*CALL)
    assert _refreshes(server) == 1


def test_a_realm_logs_in_through_login_to_realm(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login_to_realm", session_reply("at-1"))
    make_client(realm="account").call(*CALL)
    sent = [json.loads(r.body)["params"] for r in server.received if "login" in r.path]
    assert sent == [{"login": "api", "password": PASSWORD, "realm": "account"}]
    assert server.received[-1].headers["Authorization"] == "Bearer at-1"


def test_the_resource_passes_its_realm(server: ScriptedServer) -> None:
    server.script("Session/login_to_realm", session_reply("at-1"))
    resource = PortaBillingResource(
        url=server.url, login="api", password=PASSWORD, realm="customer", share_session=False
    )
    with resource.get_client() as client:
        client.call(*CALL)
    assert server.count("Session/login_to_realm") == 1
    assert server.count("Session/login") == 0


def test_the_lifetime_is_asked_once_with_the_new_token(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Session/login", session_reply("at-1"), session_reply("at-2"))
    server.script(LIFETIME, _lifetime(900))
    server.script(
        "Account/get_account_info", OK, fault("Server.Session.check_auth.auth_failed"), OK
    )
    client = make_client()
    for _ in range(2):
        client.call(*CALL)
    asked = [r for r in server.received if r.path == f"/rest/{LIFETIME}"]
    assert [r.headers["Authorization"] for r in asked] == ["Bearer at-1"]
    assert json.loads(asked[0].body) == {"params": {}}
    assert server.count("Session/login") == 2


@pytest.mark.parametrize(
    ("lifetime", "margin", "quiet_s", "due_s"),
    # The old rule: the margin, but never more than half the token's life (at 450 s and 30 s).
    [(900, 600.0, 599, 601), (60, 300.0, 39, 41)],
    ids=["900-second", "60-second"],
)
def test_the_margin_is_at_most_a_third_of_the_lifetime(
    lifetime: int,
    margin: float,
    quiet_s: float,
    due_s: float,
    server: ScriptedServer,
    make_client: Factory,
    clock: Any,
    sign: Signer,
) -> None:
    server.script("Session/login", session_reply(sign(clock() + lifetime)))
    fresh = session_reply(sign(clock() + 2 * lifetime), "rt-2")
    server.script("Session/refresh_access_token", fresh)
    server.script(LIFETIME, _lifetime(lifetime))
    _first_refresh_between(
        make_client(settings=ClientSettings(refresh_margin_s=margin)), server, clock, quiet_s, due_s
    )


def test_the_lifetime_times_a_token_without_an_expiry(
    server: ScriptedServer, make_client: Factory, clock: Any
) -> None:
    server.script("Session/login", session_reply("opaque-1"))
    server.script("Session/refresh_access_token", session_reply("opaque-2", "rt-2"))
    server.script(LIFETIME, _lifetime(60))
    _first_refresh_between(
        make_client(settings=ClientSettings(refresh_margin_s=300.0)), server, clock, 39, 41
    )
    assert server.received[-1].headers["Authorization"] == "Bearer opaque-2"


@pytest.mark.parametrize(
    "answer",
    [
        fault("Server.Session.unknown_method", "no such method"),
        fault("Client.Session.get_access_token_lifetime.forbidden"),
        Reply(503, b"busy"),
        _lifetime("soon"),
        _lifetime(float("inf")),
        _lifetime(-5),
        Reply(200, {}),
    ],
    ids=["unknown", "client-fault", "unavailable", "text", "infinite", "negative", "missing"],
)
def test_a_server_that_cannot_tell_the_lifetime_does_not_fail_the_call(
    answer: Reply, server: ScriptedServer, make_client: Factory, clock: Any, sign: Signer
) -> None:
    server.script("Session/login", session_reply(sign(clock() + 90)))
    server.script("Session/refresh_access_token", session_reply(sign(clock() + 180), "rt-2"))
    server.script(LIFETIME, answer)
    client = make_client(settings=ClientSettings(refresh_margin_s=60.0, max_retries=1))
    # The token's own life decides: refresh in its last third.
    _first_refresh_between(client, server, clock, 59, 61)
    assert server.count(LIFETIME) == (2 if answer.status == 503 else 1)  # asked once (retried)


def test_legacy_sessions_are_not_asked(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Session/login", session_reply("at-1", session_id="sid-1"))
    make_client(legacy=True).call(*CALL)
    assert server.count(LIFETIME) == 0
    call = parse_qs(server.received[-1].body.decode())
    assert json.loads(call["auth_info"][0]) == {"session_id": "sid-1"}


def test_a_run_shares_one_session_per_realm(server: ScriptedServer) -> None:
    server.script("Session/login", session_reply("admin-token"))
    server.script("Session/login_to_realm", session_reply("account-token"))
    for realm in (None, "account", None, "account"):
        resource = PortaBillingResource(url=server.url, login="api", password=PASSWORD, realm=realm)
        with resource.get_client(run_id="run-1") as client:
            client.call(*CALL)
    assert (server.count("Session/login"), server.count("Session/login_to_realm")) == (1, 1)
    bearers = [r.headers["Authorization"] for r in server.received if r.path.endswith("info")]
    assert bearers == ["Bearer admin-token", "Bearer account-token"] * 2
