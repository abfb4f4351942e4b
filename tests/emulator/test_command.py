"""`portabilling emulator` as a user runs it: help, bad flags, start, serve, stop."""

import re
import shlex
import signal
import subprocess
import sys
from itertools import takewhile
from pathlib import Path

import pytest
import requests

from connector.dagster_defs.project import portabilling_resource

PORTABILLING = str(Path(sys.executable).with_name("portabilling"))


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [PORTABILLING, "emulator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--accounts",
        "--customers",
        "--xdrs-per-account",
        "--xdr-start",
        "--xdr-days",
        "--seed",
        "--login",
        "--password",
        "--api-token",
        "--latency-ms",
        "--transient-error-rate",
        "--rate-limit-rps",
        "--retry-after",
        "--session-kill-rate",
        "--total-as-string",
        "--churn-per-page",
        "--token-lifetime",
        "--release",
        "--https",
        "--cert-dir",
    ):
        assert option in result.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--transient-error-rate", "2"]])
def test_bad_flag_exits_2_with_one_line(args: list[str]) -> None:
    result = subprocess.run(
        [PORTABILLING, "emulator", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled(stop: signal.Signals) -> None:
    command = [
        PORTABILLING,
        "emulator",
        "--port",
        "0",
        "--accounts",
        "50",
        "--api-token",
        "tok-123",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:\d+", banner[0])
        assert url is not None
        assert "demo" in banner[1] and "exAmple" in banner[1] and "tok-123" in banner[2]
        body = {"params": {"login": "demo", "token": "tok-123"}}
        token = requests.post(f"{url.group(0)}/rest/Session/login", json=body, timeout=10).json()[
            "access_token"
        ]
        listed = requests.post(
            f"{url.group(0)}/rest/Account/get_account_list",
            json={"params": {"get_total": 1, "limit": 1}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert listed["total"] == 50
    finally:
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize("release", ["current", "legacy"])
def test_banner_export_lines_point_the_connector_at_it(
    release: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pasting the printed `export` lines gives the connector a working configuration."""
    command = [PORTABILLING, "emulator", "--port", "0", "--accounts", "5", "--release", release]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = takewhile(lambda line: "stop with" not in line, iter(process.stdout.readline, ""))
        exports = [line.split() for line in banner if line.strip().startswith("export ")]
        environ = dict(shlex.split(words[1])[0].split("=", 1) for words in exports)
        assert environ.keys() >= {"PORTABILLING_URL", "PORTABILLING_LOGIN", "PORTABILLING_PASSWORD"}
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        resource = portabilling_resource(environ).process_config_and_initialize()
        with resource.get_client() as client:
            assert client.call("Generic", "get_version", {})["version"].startswith("MR")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
