"""End-to-end latency of a provisioning event: account changed → row updated in Parquet.

python benchmarks/event_latency.py [--events 5] [--interval 30]

Runs the real pieces: the emulator and the ESPF receiver in this process, the Dagster daemon
(`dagster-daemon run`, queued run coordinator, the events sensor started with
`dagster sensor start`) as a subprocess on a temporary DAGSTER_HOME. For each event: block or
unblock an account in the emulator, deliver the ESPF event to the receiver, and poll the accounts
table until the row shows the new state. Prints each latency and the median.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from connector.dagster_defs.project import SNAPSHOT_JOB, build_defs
from connector.emulator import Emulator, EmulatorConfig
from connector.entities import BUILT_IN
from connector.events.auth import BasicAuth
from connector.events.receiver import EventReceiver
from connector.events.store import EventStore

ROUTING = BUILT_IN.routing()

REPO = Path(__file__).resolve().parents[1]
WEBHOOK = ("espf", "bench-secret")
ACCOUNT = 1000
POLL_S = 0.25
LIMIT_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--interval", type=int, default=30, help="sensor minimum interval, s")
    args = parser.parse_args()
    # The daemon's child processes may still be writing DAGSTER_HOME as the folder goes.
    with (
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as work,
        Emulator(EmulatorConfig(accounts=2000)) as emu,
    ):
        env = environment(emu, Path(work), args.interval)
        os.environ.update(env)
        build_defs().resolve_job_def(SNAPSHOT_JOB).execute_in_process()
        with (
            EventStore(env["PORTABILLING_EVENTS_DB"]) as store,
            EventReceiver(store, BasicAuth(*WEBHOOK), routing=ROUTING) as receiver,
            DagsterDaemon(env),
        ):
            latencies = [
                one_event(emu, receiver.url, Path(env["PORTABILLING_DATA_DIR"]), i % 2 == 0)
                for i in range(args.events)
            ]
    print(f"sensor interval {args.interval} s, {len(latencies)} events")
    print("latencies s: " + ", ".join(f"{s:.1f}" for s in latencies))
    print(f"median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s")


def environment(emu: Emulator, work: Path, interval: int) -> dict[str, str]:
    home = work / "dagster_home"
    home.mkdir()
    return {
        "DAGSTER_HOME": str(home),
        "PORTABILLING_URL": emu.url,
        "PORTABILLING_LOGIN": emu.login,
        "PORTABILLING_PASSWORD": emu.password,
        "PORTABILLING_DATA_DIR": str(work / "data"),
        "PORTABILLING_EVENTS_DB": str(work / "events.sqlite3"),
        "PORTABILLING_EVENTS_SENSOR_INTERVAL_S": str(interval),
    }


class DagsterDaemon:
    """`dagster-daemon run` with the events sensor started, stopped on exit."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}

    def __enter__(self) -> "DagsterDaemon":
        dagster = [sys.executable, "-m", "dagster"]
        subprocess.run(
            [*dagster, "sensor", "start", "portabilling_events_sensor", "-m", "definitions"],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "definitions"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def one_event(emu: Emulator, receiver_url: str, data: Path, blocked: bool) -> float:
    """Seconds from the ESPF delivery to the accounts table showing the change."""
    emu.update_account(ACCOUNT, blocked="Y" if blocked else "N")
    started = time.monotonic()
    emu.deliver_events(f"{receiver_url}/events", ("basic", *WEBHOOK))
    while not table_shows(data, blocked):
        if time.monotonic() - started > LIMIT_S:
            raise RuntimeError(f"the change did not reach the table within {LIMIT_S:.0f} s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def table_shows(data: Path, blocked: bool) -> bool:
    table = pq.read_table(data / "accounts", filters=[("i_account", "=", ACCOUNT)])
    return table.num_rows == 1 and table["blocked"][0].as_py() is blocked


if __name__ == "__main__":
    main()
