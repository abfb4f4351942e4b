"""Fixtures for talking to the emulator over real HTTP with plain `requests`."""

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from connector.emulator import Emulator


class Api:
    """A minimal raw caller: JSON body, optional Bearer token; returns the `requests.Response`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.http = requests.Session()
        self.token: str | None = None

    def post(
        self, name: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> requests.Response:
        headers = {}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        body = {"params": params or {}}
        return self.http.post(
            f"{self.emulator.url}/rest/{name}", json=body, headers=headers, timeout=10
        )

    def login(self) -> dict[str, Any]:
        answer = self.post(
            "Session/login", {"login": self.emulator.login, "password": self.emulator.password}
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        self.token = data["access_token"]
        return data

    def call(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.post(name, params)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def fault(
        self, name: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> str:
        answer = self.post(name, params, token)
        assert answer.status_code == 500, answer.text
        code: str = answer.json()["faultcode"]
        return code


def read_all(
    api: Api, method: str, list_key: str, size: int, **params: Any
) -> tuple[list[Any], set[Any]]:
    """Every page of a list method, and the totals its pages reported."""
    rows: list[Any] = []
    totals: set[Any] = set()
    while True:
        page = {"limit": size, "offset": len(rows), "get_total": 1, **params}
        answer = api.call(method, page)
        rows += answer[list_key]
        totals.add(answer["total"])
        if len(answer[list_key]) < size:
            return rows, totals


@pytest.fixture
def make_api() -> Iterator[Callable[[Emulator], Api]]:
    apis: list[Api] = []

    def make(emulator: Emulator) -> Api:
        apis.append(Api(emulator))
        return apis[-1]

    yield make
    for api in apis:
        api.http.close()


@pytest.fixture
def make_emulator(make_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """The shared factory, pinned to the current release: these tests speak JSON + Bearer."""

    def make(clock: Callable[[], float] | None = None, **config_fields: Any) -> Emulator:
        config_fields.setdefault("release", "current")
        return make_emulator(clock, **config_fields)

    return make


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator], clock: Callable[[], float]) -> Emulator:
    return make_emulator(clock=clock)


@pytest.fixture
def api(emu: Emulator, make_api: Callable[[Emulator], Api]) -> Api:
    caller = make_api(emu)
    caller.login()
    return caller


class Webhook:
    """A tiny ESPF receiver on loopback: records each POST, answers from a scripted status list."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.script: list[int] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                webhook.received.append((dict(self.headers.items()), body))
                status = webhook.script.pop(0) if webhook.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
