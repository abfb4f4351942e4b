"""Transport over real loopback HTTP: encoding, retries, throttling, fault and non-JSON handling."""

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connector import (
    ClientSettings,
    FaultError,
    PortaBillingClient,
    PortaBillingError,
    ProtocolError,
    TransientError,
)

from .conftest import session_reply
from .scripted import Reply, ScriptedServer, fault

OK = Reply(200, {"account_info": {"i_account": 1}})
CALL = ("Account", "get_account_info", {"i_account": 1})
Factory = Callable[..., PortaBillingClient]


@pytest.fixture(autouse=True)
def logged_in(server: ScriptedServer) -> None:
    server.script("Session/login", session_reply("opaque-access", session_id="sid-1"))


def test_json_call_sends_bearer_and_params(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Account/get_account_info", OK)
    assert make_client().call(*CALL) == {"account_info": {"i_account": 1}}
    sent = server.received[-1]
    assert sent.headers["Authorization"] == "Bearer opaque-access"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"params": {"i_account": 1}}


def test_a_netrc_entry_for_the_host_does_not_replace_the_bearer(
    server: ScriptedServer, make_client: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {urlsplit(server.url).hostname} login someone password other\n")
    monkeypatch.setenv("NETRC", str(netrc))
    server.script("Account/get_account_info", OK)
    make_client().call(*CALL)
    assert server.received[-1].headers["Authorization"] == "Bearer opaque-access"


def test_requests_go_through_the_proxy_the_environment_names(
    server: ScriptedServer, make_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the scripted server plays the proxy
    client = make_client(
        url="http://billing.example.invalid", settings=ClientSettings(max_retries=0)
    )
    with pytest.raises(PortaBillingError):  # the proxy has no script for what it is asked
        client.call(*CALL)
    assert server.received[0].path == "http://billing.example.invalid/rest/Session/login"


def test_empty_params_are_sent_as_an_object(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Customer/get_customer_list", Reply(200, {"customer_list": []}))
    make_client().call("Customer", "get_customer_list")
    assert json.loads(server.received[-1].body) == {"params": {}}


def test_legacy_mode_sends_form_fields_as_json_strings(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", OK)
    make_client(legacy=True).call(*CALL)
    login, call = (parse_qs(r.body.decode()) for r in server.received[-2:])
    assert json.loads(login["params"][0])["login"] == "api"
    assert json.loads(call["auth_info"][0]) == {"session_id": "sid-1"}
    assert json.loads(call["params"][0]) == {"i_account": 1}
    assert "Authorization" not in server.received[-1].headers


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_status_is_retried(
    status: int, server: ScriptedServer, make_client: Factory
) -> None:
    server.script(
        "Account/get_account_info", Reply(status, b"<html>down</html>"), Reply(status), OK
    )
    client = make_client()
    assert client.call(*CALL)["account_info"]["i_account"] == 1
    assert server.count("Account/get_account_info") == 3
    assert client.stats.retries == 2


def test_connection_refused_is_retried_then_gives_up(make_client: Factory, clock: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(url=f"http://127.0.0.1:{port}", settings=ClientSettings(max_retries=2))
    with pytest.raises(TransientError, match="gave up after 3 attempts") as caught:
        client.call(*CALL)
    assert caught.value.method == "login"
    assert client.stats.as_dict() | {"logins": 0} == {
        "requests": 3,
        "retries": 2,
        "throttled": 0,
        "refreshes": 0,
        "logins": 0,
        "bytes_received": 0,
    }


def test_read_timeout_is_retried(server: ScriptedServer, make_client: Factory) -> None:
    released = threading.Event()
    stalled = Reply(**{**vars(OK), "before": lambda: released.wait(5)})
    server.script("Account/get_account_info", stalled, OK)
    client = make_client(timeout=(5.0, 0.1))
    try:
        assert client.call(*CALL) == OK.body
    finally:
        released.set()
    assert server.count("Account/get_account_info") == 2
    assert client.stats.retries == 1


def test_gives_up_after_max_retries(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Account/get_account_info", Reply(503))
    with pytest.raises(TransientError, match="gave up after 4 attempts") as caught:
        make_client(settings=ClientSettings(max_retries=3)).call(*CALL)
    assert caught.value.http_status == 503
    assert server.count("Account/get_account_info") == 4


def test_gives_up_at_the_deadline(server: ScriptedServer, make_client: Factory, clock: Any) -> None:
    server.script("Account/get_account_info", Reply(503))
    client = make_client(
        settings=ClientSettings(
            max_retries=1000, retry_budget_s=20.0, backoff_base_s=1.0, backoff_cap_s=4.0
        )
    )
    started = clock()
    with pytest.raises(TransientError):
        client.call(*CALL)
    assert clock() - started <= 20.0
    assert server.count("Account/get_account_info") > 3


def test_retry_after_is_honoured(server: ScriptedServer, make_client: Factory, clock: Any) -> None:
    server.script("Account/get_account_info", Reply(429, headers={"Retry-After": "7"}), OK)
    client = make_client()
    server.script("Session/ping", Reply(200, {"user_id": 1}))
    client.call("Session", "ping")  # log in first, outside the timed part
    started = clock()
    client.call(*CALL)
    assert clock() - started == 7.0
    assert (client.stats.throttled, client.stats.retries) == (1, 1)


def test_retry_after_pauses_every_thread(
    server: ScriptedServer, make_client: Factory, clock: Any
) -> None:
    server.script("Account/get_account_info", Reply(429, headers={"Retry-After": "5"}))
    server.script("Account/get_account_list", Reply(200, {"account_list": []}))
    slept: list[tuple[str, float]] = []

    def recording_sleep(seconds: float) -> None:
        slept.append((threading.current_thread().name, seconds))
        clock.sleep(seconds)

    client = make_client(settings=ClientSettings(max_retries=0), sleep=recording_sleep)
    with pytest.raises(TransientError):
        client.call(*CALL)
    other = threading.Thread(target=client.call, args=("Account", "get_account_list"), name="other")
    other.start()
    other.join()
    assert slept == [("other", 5.0)]
    assert server.count("Account/get_account_list") == 1


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", Reply(429, headers={"Retry-After": "3600"}))
    with pytest.raises(TransientError):
        make_client(settings=ClientSettings(retry_budget_s=60.0)).call(*CALL)
    assert server.count("Account/get_account_info") == 1


def test_fault_is_final_and_carries_its_code(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Account/get_account_info", fault("Client.get_account_info.invalid_param", "bad"))
    with pytest.raises(FaultError) as caught:
        make_client().call(*CALL)
    assert caught.value.faultcode == "Client.get_account_info.invalid_param"
    assert caught.value.faultstring == "bad"
    assert server.count("Account/get_account_info") == 1


@pytest.mark.parametrize("status", [200, 500])
def test_non_json_answer_is_a_clear_final_error(
    status: int, server: ScriptedServer, make_client: Factory
) -> None:
    page = b"<html><title>Welcome to nginx</title>" + b"<p>filler</p>" * 100 + b"</html>"
    server.script("Account/get_account_info", Reply(status, page))
    with pytest.raises(ProtocolError) as caught:
        make_client().call(*CALL)
    message = str(caught.value)
    assert f"HTTP {status}" in message and "not JSON" in message and "Welcome to nginx" in message
    assert len(message) < 300
    assert server.count("Account/get_account_info") == 1


def test_send_sends_now_and_decodes_when_asked(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", Reply(503, b"busy"), OK)
    decode = make_client().send(*CALL)
    assert server.count("Account/get_account_info") == 2  # the retry happened inside send
    assert decode() == {"account_info": {"i_account": 1}}


def test_send_raises_a_fault_at_once(server: ScriptedServer, make_client: Factory) -> None:
    server.script("Account/get_account_info", fault("Client.get_account_info.invalid_param"))
    with pytest.raises(FaultError):
        make_client().send(*CALL)


def test_send_keeps_a_200_body_as_text_until_decoded(
    server: ScriptedServer, make_client: Factory
) -> None:
    server.script("Account/get_account_info", Reply(200, b"<html>Welcome to nginx</html>"))
    decode = make_client().send(*CALL)  # nothing decoded yet, so nothing to refuse
    with pytest.raises(ProtocolError, match=r"not JSON.*HTTP 200"):
        decode()


def test_bytes_and_requests_are_counted(server: ScriptedServer, make_client: Factory) -> None:
    lifetime = Reply(200, {"access_token_lifetime": 900})
    server.script("Session/get_access_token_lifetime", lifetime)
    server.script("Account/get_account_info", Reply(503, b"busy"), OK)
    client = make_client()
    client.call(*CALL)
    login_size = len(json.dumps(session_reply("opaque-access", session_id="sid-1").body))
    sizes = login_size + len(json.dumps(lifetime.body)) + len(b"busy") + len(json.dumps(OK.body))
    assert client.stats.requests == 4  # login, lifetime, 503, answer
    assert client.stats.bytes_received == sizes


def test_closed_client_refuses_calls(server: ScriptedServer, make_client: Factory) -> None:
    client = make_client()
    client.close()
    with pytest.raises(PortaBillingError, match="closed"):
        client.call(*CALL)
