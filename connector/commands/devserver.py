"""`portabilling dev`: the bundled emulator, the event receiver and the Dagster UI, wired together.

One environment joins them: the emulator's URL and credentials, one data root and the event store
in it, xDR partitions from the emulator's first day, one persistent `DAGSTER_HOME`. SIGINT or
SIGTERM stops everything it started: `dagster dev` runs in a process group of its own, which is
interrupted, then killed if anything in it outlives the grace period.
"""

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.commands.dagster_ui import DagsterUI
from connector.commands.livechanges import start_live
from connector.dagster_defs.sensors import SENSOR_NAME
from connector.emulator.command import DEFAULT_PORT as DEFAULT_EMULATOR_PORT
from connector.emulator.command import exports
from connector.emulator.config import EmulatorConfig
from connector.emulator.emulator import Emulator
from connector.entities import BUILT_IN
from connector.events import BasicAuth, EventStore
from connector.events.command import DEFAULT_PORT as DEFAULT_WEBHOOK_PORT
from connector.events.command import stop_on_signals
from connector.events.receiver import EventReceiver
from connector.events.store import default_events_db_path

DEFAULT_UI_PORT = 3000
XDR_DAYS = 3  # the emulator's xDRs cover the last three whole UTC days: three partitions
WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"
# No telemetry and no first-visit dialog in a local UI (kept if the file exists already).
INSTANCE_SETTINGS = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
# `dagster dev` names its successor in a warning at every start; this project runs `dagster dev`.
QUIET_SUPERSESSION = "ignore:Function `dev_command` is superseded"
WEBHOOK_USER = "espf"
UI_START_TIMEOUT_S = 180
STOP_GRACE_S = 30
# The dev environment names its own server: these are never taken from the caller's shell.
SERVER_VARIABLES = (
    "PORTABILLING_URL",
    "PORTABILLING_LOGIN",
    "PORTABILLING_PASSWORD",
    "PORTABILLING_API_TOKEN",
    "PORTABILLING_CA_BUNDLE",
    "PORTABILLING_LEGACY_API",
    "PORTABILLING_REALM",
    "PORTABILLING_DATA_DIR",
    "PORTABILLING_EVENTS_DB",
    "PORTABILLING_XDR_START_DATE",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `portabilling dev`."""
    add = parser.add_argument
    add("--live", action="store_true", help="change accounts and deliver ESPF events every 3 s")
    add("--port", type=int, default=DEFAULT_UI_PORT, help="Dagster UI port (default %(default)s)")
    add(
        "--webhook-port",
        type=int,
        default=DEFAULT_WEBHOOK_PORT,
        help="event receiver port (default %(default)s)",
    )
    add(
        "--emulator-port",
        type=int,
        default=DEFAULT_EMULATOR_PORT,
        help="emulator port (default %(default)s)",
    )
    add("--data-dir", default="data", help="root of the tables (default %(default)s)")
    add(
        "--dagster-home",
        default=".dagster_home",
        help="DAGSTER_HOME: runs and sensor state, kept between starts (default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the three, print where they are, and serve until SIGINT/SIGTERM."""
    if not WORKSPACE.is_file():
        raise ValueError(f"portabilling dev runs from a clone of the project: no {WORKSPACE}")
    check_port_is_free(args.port)
    data_dir, home = Path(args.data_dir).resolve(), Path(args.dagster_home).resolve()
    prepare_dagster_home(home)
    stopping = stop_on_signals()
    password = secrets.token_urlsafe(16)
    with (
        Emulator(emulator_config(args.emulator_port)) as emulator,
        EventStore(default_events_db_path({"PORTABILLING_DATA_DIR": str(data_dir)})) as store,
        EventReceiver(
            store,
            BasicAuth(WEBHOOK_USER, password),
            routing=BUILT_IN.routing(),
            port=args.webhook_port,
        ) as receiver,
        dagster_dev(dev_environment(emulator, data_dir, home), args.port) as ui_process,
    ):
        watch(ui_process, stopping)
        print(f"emulator: {emulator.url} (login {emulator.login})", flush=True)
        print(f"events: POST {receiver.url}/events (basic auth, user {WEBHOOK_USER})", flush=True)
        print(f"tables: {data_dir}  DAGSTER_HOME: {home}", flush=True)
        ui = DagsterUI(f"http://127.0.0.1:{args.port}", stopping)
        if ui.start_sensor(SENSOR_NAME, UI_START_TIMEOUT_S):
            print(f"Dagster UI: {ui.url} ({SENSOR_NAME} running); Ctrl-C stops all", flush=True)
        if args.live:
            auth = ("basic", WEBHOOK_USER, password)
            start_live(emulator, f"{receiver.url}/events", auth, stopping)
        stopping.wait()
        if ui_process.poll() is not None:  # it ended by itself (a busy port, say), not by us
            print(f"dagster dev exited with code {ui_process.returncode}", file=sys.stderr)
            return 1
    return 0


def check_port_is_free(port: int) -> None:
    """Refuse a UI port already taken: `dagster dev` would keep running without its UI."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ValueError(f"--port {port} is in use; choose the UI's port with --port") from None


def watch(process: subprocess.Popen[bytes], stopping: threading.Event) -> None:
    """Set `stopping` when `process` ends, so nothing waits on a UI that is gone."""

    def wait_then_stop() -> None:
        process.wait()
        stopping.set()

    threading.Thread(target=wait_then_stop, name="dagster-dev", daemon=True).start()


def emulator_config(port: int) -> EmulatorConfig:
    """The default emulator, its xDRs over the last `XDR_DAYS` whole UTC days."""
    today = datetime.now(UTC).date()
    return EmulatorConfig(port=port, xdr_start=today - timedelta(days=XDR_DAYS), xdr_days=XDR_DAYS)


def prepare_dagster_home(home: Path) -> None:
    """Create `home` with the local instance settings unless it has its own `dagster.yaml`."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(INSTANCE_SETTINGS)


def dev_environment(emulator: Emulator, data_dir: Path, home: Path) -> dict[str, str]:
    """This process's environment, pointed at the emulator, the data root and the Dagster home."""
    inherited = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    return {
        **inherited,
        **dict(exports(emulator)),
        "PORTABILLING_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(home),
        "PYTHONWARNINGS": ",".join(
            filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_SUPERSESSION])
        ),
    }


@contextmanager
def dagster_dev(environ: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster dev` on the project's workspace in its own process group, stopped on exit."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            *("dev", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)),
        ],
        env=environ,
        cwd=WORKSPACE.parent,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Interrupt the process group, wait for its leader, then kill whatever is left of it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
