"""`portabilling dev --live`: one command to a live UI, and Ctrl-C leaves nothing running behind."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from test_dagster_ui import REPO, free_port

from connector.entities import ACCOUNTS

START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 120
ASSETS = """
{ assetNodes { assetKey { path } dependencyKeys { path } partitionKeys metadataEntries {
    label ... on TableSchemaMetadataEntry { schema { columns { name description } } } } } }
"""
REPOSITORY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name }
    sensors { name sensorState { status } } } } }
  shouldShowNux }
"""
RUNS = """
query ($job: String!) {
  runsOrError(filter: {pipelineName: $job, statuses: [SUCCESS]}) {
    ... on Runs { results { runId tags { key value } } } } }
"""


@dataclass
class Dev:
    process: subprocess.Popen[str]
    ui: str
    lines: "queue.Queue[str]"


def _descendants(root: int) -> set[int]:
    """Every live process under `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _is_alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _clean_environment() -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PORTABILLING_", "DAGSTER_"))}
    return {**kept, "PORTABILLING_EVENTS_SENSOR_INTERVAL_S": "2"}


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _wait_for_line(lines: "queue.Queue[str]", pattern: str, timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r} within {timeout_s} s")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGINT (dev stops what it started, in other process groups too), then SIGKILL its group."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _forward(process: subprocess.Popen[str], lines: "queue.Queue[str]") -> None:
    """Every output line into `lines` (keeps the pipe drained)."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev")


@pytest.fixture(scope="module")
def git_status_before() -> str:
    return _git_status()


@pytest.fixture(scope="module")
def dev(workdir: Path, git_status_before: str) -> Iterator[Dev]:
    """`portabilling dev --live` on free ports, from an empty folder; stopped if a test fails."""
    ui, webhook, emulator = (str(free_port()) for _ in range(3))
    ports = ("--port", ui, "--webhook-port", webhook, "--emulator-port", emulator)
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.commands.cli", "dev", "--live", *ports],
        cwd=workdir,
        env=_clean_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a test failure can then kill the whole tree
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_forward, args=(process, lines), daemon=True).start()
    try:
        match = _wait_for_line(lines, r"Dagster UI: (http://\S+)", START_TIMEOUT_S)
        yield Dev(process, match.group(1), lines)
    finally:
        stop(process)


def _query(dev: Dev, text: str, **variables: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{dev.ui}/graphql", json={"query": text, "variables": variables}, timeout=30
    )
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_the_ui_shows_assets_lineage_and_column_descriptions(dev: Dev) -> None:
    nodes = {tuple(n["assetKey"]["path"]): n for n in _query(dev, ASSETS)["assetNodes"]}
    assert {("portabilling", t) for t in ("customers", "accounts", "xdrs", "events")} <= set(nodes)
    accounts = nodes[("portabilling", "accounts")]
    assert accounts["dependencyKeys"] == [{"path": ["portabilling", "events"]}]
    [schema] = [e for e in accounts["metadataEntries"] if e["label"] == "dagster/column_schema"]
    described = {c["name"]: c["description"] for c in schema["schema"]["columns"]}
    assert described == ACCOUNTS.table.descriptions
    assert len(nodes[("portabilling", "xdrs")]["partitionKeys"]) == 3  # the emulator's days only


def test_the_ui_has_the_schedules_the_running_sensor_and_no_first_visit_dialog(dev: Dev) -> None:
    data = _query(dev, REPOSITORY)
    [repository] = data["repositoriesOrError"]["nodes"]
    schedules = {s["name"] for s in repository["schedules"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert schedules == {
        "portabilling_daily_snapshot",
        "portabilling_daily_xdrs",
        "portabilling_daily_maintenance",
    }
    assert sensors["portabilling_events_sensor"] == "RUNNING"
    assert data["shouldShowNux"] is False


def test_live_events_reach_a_sensor_launched_run_that_succeeds(dev: Dev) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = _query(dev, RUNS, job="portabilling_events_job")["runsOrError"]["results"]
        by_sensor = [
            r
            for r in runs
            if {"key": "dagster/sensor_name", "value": "portabilling_events_sensor"} in r["tags"]
        ]
        if by_sensor:
            return
        with pytest.raises(subprocess.TimeoutExpired):  # the pause between polls watches dev
            dev.process.wait(timeout=1)
    raise AssertionError("no sensor-launched events run succeeded in time")


def test_sigint_stops_everything_and_leaves_only_data_and_the_dagster_home(
    dev: Dev, workdir: Path, git_status_before: str
) -> None:
    started = _descendants(dev.process.pid)
    assert started, "dev started no process"
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(timeout=60) == 0
    assert [pid for pid in started if _is_alive(pid)] == []
    assert sorted(p.name for p in workdir.iterdir()) == [".dagster_home", "data"]
    assert _git_status() == git_status_before


def test_a_busy_ui_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "connector.commands.cli", "dev", "--port", port],
            cwd=tmp_path,
            env=_clean_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert (done.returncode, done.stderr) == (
        2,
        f"portabilling dev: error: --port {port} is in use; choose the UI's port with --port\n",
    )
    assert list(tmp_path.iterdir()) == []
