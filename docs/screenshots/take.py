"""Take the README's screenshots: `portabilling dev --live`, one snapshot run, headless Chromium.

Run from the repository root: `.venv/bin/python docs/screenshots/take.py` (needs `chromium`,
Debian's package). Writes asset-graph.png, asset-accounts.png and run.png next to this file.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SNAPSHOT_JOB = "portabilling_snapshot_job"
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""
REPOSITORY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def query(ui: str, text: str, **variables: Any) -> dict[str, Any]:
    """The `data` of one GraphQL request to the UI at `ui`."""
    answer = requests.post(
        f"{ui}/graphql", json={"query": text, "variables": variables}, timeout=30
    )
    data: dict[str, Any] = answer.json()["data"]
    return data


def start_dev(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`portabilling dev --live` in `folder` on free ports, and its UI's URL once it serves."""
    ports = ("--port", str(free_port()), "--webhook-port", str(free_port()))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector.commands.cli",
            "dev",
            "--live",
            *ports,
            "--emulator-port",
            str(free_port()),
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if found := re.search(r"Dagster UI: (http://\S+)", line):
            return process, found.group(1)
    raise RuntimeError("portabilling dev exited before its UI served")


def run_snapshot(ui: str) -> str:
    """Launch the snapshot job and wait for its success; its run id."""
    [repository] = query(ui, REPOSITORY)["repositoriesOrError"]["nodes"]
    selector = {
        "repositoryLocationName": repository["location"]["name"],
        "repositoryName": repository["name"],
        "jobName": SNAPSHOT_JOB,
    }
    launched = query(ui, LAUNCH, params={"selector": selector, "runConfigData": {}})["launchRun"]
    run_id: str = launched["run"]["runId"]
    while (status := query(ui, STATUS, id=run_id)["runOrError"]["status"]) != "SUCCESS":
        if status in ("FAILURE", "CANCELED"):
            raise RuntimeError(f"the snapshot run ended {status}")
        time.sleep(1)
    return run_id


def screenshot(url: str, path: Path) -> None:
    """One page, rendered by headless Chromium after its scripts had time to load the data."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--hide-scrollbars",
            "--window-size=1440,900",
            "--virtual-time-budget=20000",
            f"--screenshot={path}",
            url,
        ],
        check=True,
        capture_output=True,
    )
    print(f"wrote {path}")


def main() -> int:
    """Start, run, photograph, stop."""
    with tempfile.TemporaryDirectory() as folder:
        process, ui = start_dev(Path(folder))
        try:
            run_id = run_snapshot(ui)
            screenshot(f"{ui}/asset-groups", HERE / "asset-graph.png")
            screenshot(f"{ui}/assets/portabilling/accounts", HERE / "asset-accounts.png")
            screenshot(f"{ui}/runs/{run_id}", HERE / "run.png")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
