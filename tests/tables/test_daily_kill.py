"""Compaction SIGKILLed at varied points leaves every event readable exactly once."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow.parquet as pq

from connector.store.storage import TableStore
from connector.store.tables import EVENTS

from .test_daily import DAY, events

REPO = Path(__file__).resolve().parents[2]
COMPACT_SCRIPT = textwrap.dedent(
    """
    import sys
    from connector.store.storage import TableStore

    store = TableStore(sys.argv[1])
    print("ready", flush=True)
    store.maintain("events")
    print("done", flush=True)
    """
)
# Seconds after the child is ready: before, during and after the days' compactions.
KILL_AFTER_S = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3)


def fill(store: TableStore) -> list[int]:
    """Five days of ten appended files each; the ids stored."""
    first = 1
    for _ in range(10):
        store.append(EVENTS, events(first, 2_000, step_s=216.0), "received_at")
        first += 2_000
    return list(range(1, first))


def compact_and_kill(root: Path, after_s: float) -> None:
    """Start a compaction and SIGKILL it `after_s` seconds after it is ready (if still running)."""
    process = subprocess.Popen(
        [sys.executable, "-c", COMPACT_SCRIPT, str(root)], cwd=REPO, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    stopped = threading.Event()
    stopped.wait(after_s)  # the kill point, not a wait for a result
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_compaction_killed_anywhere_loses_and_repeats_nothing(tmp_path: Path):
    store = TableStore(str(tmp_path))
    ids = fill(store)
    assert DAY.date().isoformat() in {d for _, d in store.published_files("events")}
    for after_s in KILL_AFTER_S:
        compact_and_kill(tmp_path, after_s)
        stored = pq.read_table(tmp_path / "events")["i_event"].to_pylist()
        assert sorted(stored) == ids, f"killed {after_s} s in"
        store.append(EVENTS, events(ids[-1] + 1, 5), "received_at")  # appends go on meanwhile
        ids.extend(range(ids[-1] + 1, ids[-1] + 6))

    result = store.maintain("events")  # the next maintenance run finishes the work

    assert result.files_after == len({d for _, d in store.published_files("events")})
    assert sorted(pq.read_table(tmp_path / "events")["i_event"].to_pylist()) == ids
    assert not [p for p in (tmp_path / "events").rglob("*") if p.name.startswith((".", "_"))]
    assert os.listdir(tmp_path / "_staging")  # the killed runs' scratch, outside the table
