"""Bad input gets a clean fault or 4xx JSON answer: never a hang, never a traceback page."""

import socket

import pytest
import requests

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def _address(emu: Emulator) -> tuple[str, int]:
    host, port = emu.url.removeprefix("http://").split(":")
    return host, int(port)


def _raw(emu: Emulator, payload: bytes) -> bytes:
    with socket.create_connection(_address(emu), timeout=5) as connection:
        connection.sendall(payload)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_bad_json_is_a_malformed_fault(emu: Emulator, api: Api) -> None:
    answer = api.http.post(
        f"{emu.url}/rest/Session/ping",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()["faultcode"]) == (500, "Client.request.malformed")


def test_params_as_list_is_malformed(emu: Emulator, api: Api) -> None:
    answer = api.http.post(f"{emu.url}/rest/Session/ping", json={"params": []})
    assert answer.json()["faultcode"] == "Client.request.malformed"


def test_wrong_content_type_is_malformed(emu: Emulator, api: Api) -> None:
    answer = api.http.post(
        f"{emu.url}/rest/Session/ping", data=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert answer.json()["faultcode"] == "Client.request.malformed"


def test_unknown_method_is_a_fault(api: Api) -> None:
    assert api.fault("Account/get_everything") == "Server.unknown_method"


def test_bad_date_is_a_fault(api: Api) -> None:
    params = {"i_customer": 1, "from_date": "2024-01-01", "to_date": "2024-01-02 00:00:00"}
    assert (
        api.fault("Customer/get_customer_xdrs", params) == "Client.get_customer_xdrs.invalid_date"
    )


def test_ill_typed_param_is_a_fault(api: Api) -> None:
    assert (
        api.fault("Account/get_account_list", {"limit": "many"})
        == "Client.get_account_list.invalid_param"
    )


@pytest.mark.parametrize("verb", ["GET", "PUT", "DELETE"])
def test_other_verbs_get_405_json(emu: Emulator, verb: str) -> None:
    answer = requests.request(verb, f"{emu.url}/rest/Session/ping", timeout=5)
    assert answer.status_code == 405
    assert "faultcode" in answer.json()


def test_path_outside_rest_is_404_json(emu: Emulator, api: Api) -> None:
    answer = api.http.post(f"{emu.url}/index.html", json={})
    assert (answer.status_code, answer.json()["faultcode"]) == (404, "Server.unknown_method")


def test_huge_body_is_refused_with_413(emu: Emulator) -> None:
    head = b"POST /rest/Session/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer = _raw(emu, head + b"Content-Length: 999999999\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"faultcode" in answer


def test_garbage_request_line_is_400_json(emu: Emulator) -> None:
    answer = _raw(emu, b"HELLO\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"faultcode" in answer and b"Traceback" not in answer


def test_bad_content_length_is_400(emu: Emulator) -> None:
    answer = _raw(
        emu, b"POST /rest/Session/ping HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400")


def test_short_body_does_not_hang_the_server(emu: Emulator, api: Api) -> None:
    with socket.create_connection(_address(emu), timeout=5) as stuck:
        stuck.sendall(
            b"POST /rest/Session/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        )
        assert api.post("Session/ping", {"access_token": "x"}).status_code == 200
