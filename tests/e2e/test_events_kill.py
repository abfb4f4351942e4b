"""A run SIGKILLed while appending the events table: the next run applies each event once.

The killed run is a real process applying a batch (`apply_batch`, as the events asset does). The
test stops it at the two points that matter by holding what it waits for: the events table's lock
(after the store marked the batch `maybe`, before any file is published) and the event store's
write lock (after the files are published, before the store marks them `yes`).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from connector.dagster_defs.project import SNAPSHOT_JOB
from connector.entities import ACCOUNTS
from connector.events.store import EventStore
from connector.store.storage import TableStore
from tests.e2e.conftest import materialize
from tests.e2e.expected import OWNER_COPIES
from tests.e2e.test_events import deliver, mutate, run_requested, tick
from tests.e2e.test_extraction import assert_equal_to_truth, wait_for

REPO = Path(__file__).resolve().parents[2]
KILLED_RUN = "run-killed-mid-append"

APPLY_SCRIPT = textwrap.dedent(
    f"""
    import os
    from connector.api.client import PortaBillingClient
    from connector.entities import BUILT_IN
    from connector.events.store import EventStore
    from connector.store.backend import open_tables
    from connector.sync.refresh import apply_batch

    env = os.environ
    pb = PortaBillingClient(
        env["PORTABILLING_URL"],
        login=env["PORTABILLING_LOGIN"],
        password=env["PORTABILLING_PASSWORD"],
        legacy=env.get("PORTABILLING_LEGACY_API") == "true",
    )
    tables = open_tables(env["PORTABILLING_DATA_DIR"])
    with EventStore(env["PORTABILLING_EVENTS_DB"]) as store, pb:
        batch = store.claim_pending({KILLED_RUN!r})
        apply_batch(pb, tables, store, batch, BUILT_IN, 4)
        store.complete({KILLED_RUN!r})
    """
)


@contextmanager
def events_table_locked(data: Path) -> Iterator[None]:
    """Hold the events table's lock, as another writer of it would."""
    store = TableStore(str(data))
    with store.lock(store.folder("events")):
        yield


@contextmanager
def event_store_write_locked(db: Path) -> Iterator[None]:
    """Hold the event store's write lock (a long write transaction)."""
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def event_files(data: Path) -> list[Path]:
    return sorted((data / "events").rglob("*.parquet")) if (data / "events").exists() else []


def in_table_states(db: Path) -> set[str | None]:
    """The `in_table` marks the event store holds."""
    connection = sqlite3.connect(db)
    try:
        return {row[0] for row in connection.execute("SELECT DISTINCT in_table FROM events")}
    finally:
        connection.close()


def start_apply() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", APPLY_SCRIPT], cwd=REPO, env=dict(os.environ))


def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def next_run_applies_everything_once(emu: Any, data: Path, db: Path) -> None:
    """The sensor releases the dead run's claim, the next run applies; each event once."""
    with dg.instance_for_test() as instance:
        assert run_requested(instance, tick(instance, db)).success
    assert_equal_to_truth(
        ACCOUNTS.table, data / "accounts", emu.truth.accounts(), ignore=OWNER_COPIES
    )
    stored = pq.read_table(data / "events")["i_event"].to_pylist()
    assert sorted(stored) == sorted({e["variables"]["i_event"] for e in emu.events})
    with EventStore(str(db)) as store:
        assert store.counts()["done"] == len({e["variables"]["i_event"] for e in emu.events})


def prepared(make_emulator: Any, point_at: Any, events_db: Path) -> tuple[Any, Path]:
    emu = make_emulator(customers=6, accounts=30, xdrs_per_account=1)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    mutate(emu)
    deliver(emu, events_db)
    return emu, data


def test_killed_after_publishing_before_recording_it(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu, data = prepared(make_emulator, point_at, events_db)
    with ExitStack() as store_locked:
        with events_table_locked(data):
            process = start_apply()
            wait_for(lambda: in_table_states(events_db) == {"maybe"})
            store_locked.enter_context(event_store_write_locked(events_db))
        # The table lock is free: the append publishes, then waits to record it.
        wait_for(lambda: len(event_files(data)) > 0)
        kill(process)
    assert in_table_states(events_db) == {"maybe"}  # published, never recorded

    next_run_applies_everything_once(emu, data, events_db)


def test_killed_before_publishing(make_emulator: Any, point_at: Any, events_db: Path) -> None:
    emu, data = prepared(make_emulator, point_at, events_db)
    with events_table_locked(data):
        process = start_apply()
        wait_for(lambda: in_table_states(events_db) == {"maybe"})
        kill(process)
    assert event_files(data) == []

    next_run_applies_everything_once(emu, data, events_db)
