"""Retries are bounded by a time budget per call, not by a small count of attempts."""

import math
from collections.abc import Callable
from typing import Any

import pytest

from connector import ClientSettings, PortaBillingClient, TransientError
from connector.api.client import RETRIES_PER_BACKOFF_CAP
from connector.dagster_defs.resources import PortaBillingResource

from .conftest import PASSWORD, session_reply
from .scripted import Reply, ScriptedServer

OK = Reply(200, {"account_info": {"i_account": 1}})
CALL = ("Account", "get_account_info", {"i_account": 1})
Factory = Callable[..., PortaBillingClient]


@pytest.fixture(autouse=True)
def logged_in(server: ScriptedServer) -> None:
    server.script("Session/login", session_reply("opaque-access"))


def test_a_long_burst_of_5xx_on_one_call_is_outlasted(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", *[Reply(503)] * 15, OK)
    client = make_client()
    assert client.call(*CALL) == OK.body
    assert client.stats.retries == 15


def test_a_dead_server_fails_within_the_budget(
    server: ScriptedServer, make_client: Factory, clock: Any
) -> None:
    server.script("Account/get_account_info", Reply(503))
    client = make_client(settings=ClientSettings(retry_budget_s=120.0))
    started = clock()
    with pytest.raises(TransientError, match="gave up after"):
        client.call(*CALL)
    assert clock() - started <= 120.0
    assert server.count("Account/get_account_info") > 9  # the old attempt cap


def test_a_server_asking_for_no_delay_is_not_called_in_a_tight_loop(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", Reply(429, headers={"Retry-After": "0"}))
    with pytest.raises(TransientError):
        make_client(settings=ClientSettings(retry_budget_s=60.0, backoff_cap_s=30.0)).call(*CALL)
    cap = math.ceil(RETRIES_PER_BACKOFF_CAP * 60.0 / 30.0)
    assert server.count("Account/get_account_info") == cap + 1


def test_the_resource_passes_its_retry_budget(server: ScriptedServer) -> None:
    server.script("Account/get_account_info", Reply(503))
    resource = PortaBillingResource(
        url=server.url, login="api", password=PASSWORD, retry_budget_s=0.5, share_session=False
    )
    with resource.get_client() as client, pytest.raises(TransientError, match="gave up after"):
        client.call(*CALL)
    assert server.count("Account/get_account_info") <= 2  # a 0.5 s budget has no room for more
