"""`portabilling webhook` as a separate process: start-up, shutdown, configuration, and SIGKILL."""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from espf_helpers import PASSWORD, USER, basic_header, delivery, post

from connector.commands import webhook as webhook_command
from connector.events import EventStore, WebhookConfigError

BASIC_ENV = {"PORTABILLING_WEBHOOK_USER": USER, "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD}


def _webhook(db_path: str, env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "connector.commands.cli", "webhook"]
    argv += ["--port", "0", "--db", db_path]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTABILLING_WEBHOOK_")}
    return subprocess.Popen(
        [*argv, *options],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def _running(
    db_path: str, env: dict[str, str], *options: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The command, killed when the block ends, and the line it prints once it listens."""
    process = _webhook(db_path, env, *options)
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _base_url(startup_line: str) -> str:
    """The URL in the start-up line."""
    match = re.search(r"(http://\S+)/events", startup_line)
    assert match, f"no URL in {startup_line!r}"
    return match.group(1)


@pytest.fixture
def webhook(db_path: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _running(db_path, BASIC_ENV) as (process, line):
        yield process, _base_url(line)


def test_command_stores_events_and_exits_0_on_sigterm(
    webhook: tuple[subprocess.Popen[str], str], db_path: str
) -> None:
    process, url = webhook
    assert post(url, delivery(1), basic_header()).status_code == 200
    assert requests.get(f"{url}/health", timeout=10).json()["status"] == "ok"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    with EventStore(db_path) as store:
        assert [event.i_event for event in store.events([1])] == [1]


def test_startup_line_names_the_url_and_scheme_but_no_credential(db_path: str) -> None:
    env = {
        "PORTABILLING_WEBHOOK_CUSTOM_TYPE": "Key",
        "PORTABILLING_WEBHOOK_CUSTOM_CREDENTIAL": "c1-secret",
    }
    with _running(db_path, env, "--auth", "custom") as (_, line):
        assert re.match(r"receiving events on http://127\.0\.0\.1:\d+/events \(auth: custom,", line)
        assert "c1-secret" not in line


def test_command_refuses_wrong_credentials(webhook: tuple[subprocess.Popen[str], str]) -> None:
    _, url = webhook
    assert post(url, delivery(1), basic_header(password="nope")).status_code == 401


def test_missing_credentials_exit_2_naming_the_variable(db_path: str) -> None:
    process = _webhook(db_path, {"PORTABILLING_WEBHOOK_USER": USER})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.strip().splitlines() == [
        "portabilling webhook: error: environment variable PORTABILLING_WEBHOOK_PASSWORD is not set"
    ]


def test_custom_scheme_from_the_environment(db_path: str) -> None:
    env = {
        "PORTABILLING_WEBHOOK_CUSTOM_TYPE": "Key",
        "PORTABILLING_WEBHOOK_CUSTOM_CREDENTIAL": "c1",
    }
    with _running(db_path, env, "--auth", "custom") as (_, line):
        url = _base_url(line)
        assert post(url, delivery(1), {"Authorization": "Key c1"}).status_code == 200
        assert post(url, delivery(2), basic_header()).status_code == 401


class _Burst:
    """Client threads that send events without pause and record every acknowledged `i_event`."""

    def __init__(self, url: str, threads: int, wanted: int) -> None:
        self.url = url
        self.acknowledged: list[int] = []
        self.enough = threading.Event()
        self._stop = threading.Event()
        self._wanted = wanted
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(threads)]

    def __enter__(self) -> "_Burst":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _send(self, worker: int) -> None:
        with requests.Session() as session:
            for n in range(1, 1_000_000):
                if self._stop.is_set():
                    return
                i_event = worker * 1_000_000 + n
                try:
                    response = session.post(
                        f"{self.url}/events",
                        data=delivery(i_event),
                        headers=basic_header(),
                        timeout=10,
                    )
                except requests.RequestException:
                    return  # the receiver is gone
                if response.status_code == 200:
                    self.acknowledged.append(i_event)
                    if len(self.acknowledged) >= self._wanted:
                        self.enough.set()


def test_sigkill_mid_burst_loses_no_acknowledged_event(
    webhook: tuple[subprocess.Popen[str], str], db_path: str
) -> None:
    process, url = webhook
    with _Burst(url, threads=8, wanted=600) as burst:
        assert burst.enough.wait(timeout=60)
        process.kill()  # SIGKILL while the client threads keep sending
        process.wait(timeout=10)
    acknowledged = set(burst.acknowledged)
    with EventStore(db_path) as store:
        stored = {event.i_event for event in store.events(sorted(acknowledged))}
        assert stored == acknowledged
        assert sum(store.counts().values()) >= len(acknowledged)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tls-cert", "cert.pem"], "--tls-key"),
        (["--max-body-bytes", "0"], "positive"),
        (["--read-timeout", "nan"], "--read-timeout"),
        (["--read-timeout", "inf"], "--read-timeout"),
        (["--max-connections", "0"], "--max-connections"),
        (["--keep-alive-timeout", "0"], "--keep-alive-timeout"),
        (["--auth", "custom"], "PORTABILLING_WEBHOOK_CUSTOM_TYPE"),
    ],
)
def test_bad_configuration_is_refused_before_serving(
    options: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in BASIC_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PORTABILLING_WEBHOOK_CUSTOM_TYPE", raising=False)
    parser = argparse.ArgumentParser()
    webhook_command.add_arguments(parser)
    with pytest.raises(WebhookConfigError, match=message):
        webhook_command.run(parser.parse_args(options))
