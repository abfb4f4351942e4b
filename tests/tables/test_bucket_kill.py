"""SIGKILL during a bucket upsert or a bucketed snapshot leaves one row per key, before or after."""

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from connector.store.storage import TableStore

from .helpers import SPEC, accounts, snapshot
from .test_buckets import balances

REPO = Path(__file__).resolve().parents[2]
BUCKET_ROWS = 100
KEYS = list(range(1, 2001))  # 32 buckets of about 62 rows

# Shared by the child scripts: a store whose bucket publishes can stop at a chosen point, so the
# test kills the child exactly there (it prints "paused" and blocks on its stdin).
PRELUDE = textwrap.dedent(
    """
    import sys
    from connector.store.storage import TableStore
    from tests.tables.helpers import SPEC, accounts, snapshot

    class PausingStore(TableStore):
        def __init__(self, root, pause_at, **options):
            super().__init__(root, **options)
            self.pause_at, self.calls = pause_at, 0

        def pause_point(self):
            self.calls += 1
            if self.calls == self.pause_at:
                print("paused", flush=True)
                sys.stdin.readline()
    """
)

# Upserts every key with a new balance; stops after moving `pause_at - 1` bucket files in.
UPSERT_SCRIPT = PRELUDE + textwrap.dedent(
    """
    class Store(PausingStore):
        def move_file(self, staged, final):
            self.pause_point()
            super().move_file(staged, final)

    store = Store(sys.argv[1], int(sys.argv[2]), bucket_rows=int(sys.argv[3]))
    store.upsert(SPEC, accounts(list(range(1, 2001)), balance="2"))
    """
)

# Snapshots a new balance; stops once its split wrote `pause_at - 1` bucket files.
SNAPSHOT_SCRIPT = PRELUDE + textwrap.dedent(
    """
    class Store(PausingStore):
        def write_file(self, *args, **options):
            self.pause_point()
            return super().write_file(*args, **options)

    store = Store(sys.argv[1], int(sys.argv[2]), bucket_rows=int(sys.argv[3]))
    snapshot(store, accounts(list(range(1, 1001)), balance="2"))
    """
)

# Snapshots 2000 keys over a smaller table; stops after the first bucket file moved in alone.
PUBLISH_SCRIPT = PRELUDE + textwrap.dedent(
    """
    class Store(PausingStore):
        def move_file(self, staged, final):
            super().move_file(staged, final)
            if final.endswith(".parquet"):
                self.pause_point()

    store = Store(sys.argv[1], int(sys.argv[2]), bucket_rows=int(sys.argv[3]))
    snapshot(store, accounts(list(range(1, 2001)), balance="2"))
    """
)

# Snapshots forever, alternating the table size (and so the bucket count), reporting each.
SNAPSHOT_LOOP_SCRIPT = textwrap.dedent(
    """
    import sys
    from connector.store.storage import TableStore
    from tests.tables.helpers import accounts, snapshot

    store = TableStore(sys.argv[1], bucket_rows=int(sys.argv[2]))
    generation = 0
    while True:
        generation += 1
        size = 2000 if generation % 2 else 700
        snapshot(store, accounts(list(range(1, size + 1)), balance=str(generation)))
        print(generation, flush=True)
    """
)


def start(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def kill_when(process: subprocess.Popen[str], is_time: Callable[[str], bool]) -> str:
    """SIGKILL the child at the first line of its output for which `is_time` holds."""
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if is_time(line.strip()):
                os.kill(process.pid, signal.SIGKILL)
                return line.strip()
        assert process.wait() == 0, "the child failed before the kill point"
        return ""
    finally:
        process.kill()
        process.wait(timeout=30)


def assert_every_file_readable(folder: Path) -> None:
    for path in folder.glob("*.parquet"):
        assert pq.read_metadata(path).num_rows > 0


def test_sigkill_midway_through_a_bucket_upsert_leaves_each_key_before_or_after(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=BUCKET_ROWS)
    snapshot(store, accounts(KEYS, balance="1"))
    files_before = sorted(p.name for p in (tmp_path / "accounts").glob("*.parquet"))

    kill_when(start(UPSERT_SCRIPT, tmp_path, 6, BUCKET_ROWS), lambda line: line == "paused")

    assert sorted(p.name for p in (tmp_path / "accounts").glob("*.parquet")) == files_before
    assert_every_file_readable(tmp_path / "accounts")
    seen = balances(store.read("accounts"))  # asserts one row per key
    assert set(seen) == set(KEYS)
    assert set(seen.values()) == {"1.00000", "2.00000"}  # five buckets moved in, the rest not
    store.upsert(SPEC, accounts(KEYS, balance="2"))  # the batch applied again, as the next run does
    assert set(balances(store.read("accounts")).values()) == {"2.00000"}


def test_sigkill_while_snapshots_publish_leaves_one_whole_snapshot(tmp_path):
    for kill_after in (1, 2, 3):
        root = tmp_path / str(kill_after)
        process = start(SNAPSHOT_LOOP_SCRIPT, root, BUCKET_ROWS)
        kill_when(process, lambda line, n=kill_after: int(line) >= n)

        assert_every_file_readable(root / "accounts")
        seen = balances(TableStore(str(root)).read("accounts"))  # asserts one row per key
        generations = {float(v) for v in seen.values()}
        assert len(generations) == 1, "a mix of two snapshots"
        generation = int(generations.pop())
        assert generation in (kill_after, kill_after + 1)
        assert len(seen) == (2000 if generation % 2 else 700)


def test_sigkill_in_the_bucket_split_leaves_the_previous_table_byte_identical(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=BUCKET_ROWS)
    snapshot(store, accounts(KEYS, balance="1"))
    folder = tmp_path / "accounts"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}  # the row counts file too

    kill_when(start(SNAPSHOT_SCRIPT, tmp_path, 10, BUCKET_ROWS), lambda line: line == "paused")

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert set(balances(store.read("accounts")).values()) == {"1.00000"}


def test_a_snapshot_publish_never_shows_a_bucket_file_alone(tmp_path):
    """On a local folder the new files replace the old ones in one step: no file moves alone."""
    store = TableStore(str(tmp_path), bucket_rows=BUCKET_ROWS)
    snapshot(store, accounts(list(range(1, 701)), balance="1"))

    last = kill_when(start(PUBLISH_SCRIPT, tmp_path, 1, BUCKET_ROWS), lambda line: line == "paused")

    assert last == ""  # the child published without stopping: no file was moved in by itself
    assert_every_file_readable(tmp_path / "accounts")
    assert balances(store.read("accounts")) == {key: "2.00000" for key in KEYS}
