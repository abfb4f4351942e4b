"""Append-only day partitions: an append costs its batch; compaction merges a day's files."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from connector.store.arrowio import RecordConverter
from connector.store.storage import TableStore
from connector.store.tables import EVENTS, event_record

from .helpers import NOW, table_files

DAY = datetime(2026, 11, 30, 23, 59, 0, tzinfo=UTC)


def events(first: int, count: int, at: datetime = DAY, step_s: float = 1.0) -> pa.Table:
    """`count` event rows from `i_event = first`, received `step_s` apart from `at`."""
    records = [
        event_record(
            "Account/Updated",
            {"i_event": first + n, "i_account": 1000 + n % 7},
            (at + timedelta(seconds=n * step_s)).strftime("%Y-%m-%d %H:%M:%S"),
        )
        for n in range(count)
    ]
    return pa.Table.from_batches([RecordConverter(EVENTS).to_batch(records, NOW)])


def stored_ids(root: Path) -> list[int]:
    return sorted(pq.read_table(root / "events")["i_event"].to_pylist())


def stats(root: Path) -> dict[str, tuple[int, int]]:
    """Each file of the events table with its inode and modification time."""
    folder = root / "events"
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*.parquet")
    }


def test_each_append_is_a_new_file_in_the_days_it_touches(store: TableStore, tmp_path: Path):
    first = store.append(EVENTS, events(1, 120, step_s=1.0), "received_at")
    assert first.appended == 120 and first.skipped == 0
    assert first.partitions == ("2026-11-30", "2026-12-01")  # 60 s before midnight, 60 after
    before = stats(tmp_path)

    second = store.append(EVENTS, events(200, 10, at=DAY + timedelta(hours=1)), "received_at")

    assert second.partitions == ("2026-12-01",)
    after = stats(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rewritten
    [new] = set(after) - set(before)
    assert new.startswith("date=2026-12-01/part-")
    assert second.bytes_written == (tmp_path / "events" / new).stat().st_size
    assert stored_ids(tmp_path) == [*range(1, 121), *range(200, 210)]


def test_readers_see_every_appended_row_once(store: TableStore, tmp_path: Path):
    for first in (1, 101, 201):
        store.append(EVENTS, events(first, 100, step_s=30.0), "received_at")
    folder = str(tmp_path / "events")
    expected = list(range(1, 301))

    assert sorted(pd.read_parquet(folder)["i_event"]) == expected
    hive = ds.dataset(folder, partitioning="hive").to_table()
    assert sorted(hive["i_event"].to_pylist()) == expected
    assert set(hive["date"].to_pylist()) == {"2026-11-30", "2026-12-01"}
    query = f"SELECT i_event FROM read_parquet('{folder}/**/*.parquet', hive_partitioning=true)"
    assert sorted(row[0] for row in duckdb.sql(query).fetchall()) == expected
    assert sorted(pl.read_parquet(f"{folder}/**/*.parquet")["i_event"].to_list()) == expected


def test_dedupe_skips_keys_the_days_already_hold(store: TableStore, tmp_path: Path):
    store.append(EVENTS, events(1, 50), "received_at")

    retried = store.append(EVENTS, events(1, 80), "received_at", dedupe=True)

    assert (retried.appended, retried.skipped) == (30, 50)
    assert stored_ids(tmp_path) == list(range(1, 81))


def test_without_dedupe_an_append_does_not_read_the_table(store: TableStore, tmp_path: Path):
    store.append(EVENTS, events(1, 50), "received_at")
    saved = {path: path.read_bytes() for path in (tmp_path / "events").rglob("*.parquet")}
    for path in saved:
        path.write_bytes(b"not parquet")  # an append that read an old file would fail

    try:
        assert store.append(EVENTS, events(100, 5), "received_at").appended == 5
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    assert len(stored_ids(tmp_path)) == 55


def test_compaction_merges_each_days_files_into_one(store: TableStore, tmp_path: Path):
    for n in range(6):
        store.append(EVENTS, events(1 + n * 40, 40, step_s=3.0), "received_at")
    ids = stored_ids(tmp_path)
    many = table_files(tmp_path, "events")
    assert len(many) == 12

    result = store.maintain("events")

    assert (result.files_before, result.files_after, result.files_removed) == (12, 2, 12)
    files = table_files(tmp_path, "events")
    assert [f.split("/")[0] for f in files] == ["date=2026-11-30", "date=2026-12-01"]
    assert stored_ids(tmp_path) == ids
    assert result.bytes_written == sum((tmp_path / "events" / f).stat().st_size for f in files)
    assert not list((tmp_path / "_staging").iterdir())


def test_compaction_leaves_single_file_days_alone(store: TableStore, tmp_path: Path):
    store.append(EVENTS, events(1, 10, at=DAY - timedelta(days=1)), "received_at")
    store.append(EVENTS, events(100, 10), "received_at")
    store.append(EVENTS, events(200, 10), "received_at")
    before = stats(tmp_path)

    result = store.maintain("events")

    assert result.files_removed == 2
    untouched = {k: v for k, v in stats(tmp_path).items() if k.startswith("date=2026-11-29")}
    assert untouched == {k: v for k, v in before.items() if k.startswith("date=2026-11-29")}
    assert len(stored_ids(tmp_path)) == 30


def test_a_table_kept_in_one_file_is_split_into_days_by_its_next_append(
    store: TableStore, tmp_path: Path
):
    with store.writer(EVENTS) as writer:  # the layout before day partitions
        for batch in events(1, 100, step_s=2.0).to_batches():
            writer.write(batch)
    assert table_files(tmp_path, "events") == ["part-00000.parquet"]

    store.append(EVENTS, events(500, 3, at=DAY + timedelta(days=1, minutes=2)), "received_at")

    days = {f.split("/")[0] for f in table_files(tmp_path, "events")}
    assert days == {"date=2026-11-30", "date=2026-12-01", "date=2026-12-02"}
    assert stored_ids(tmp_path) == [*range(1, 101), 500, 501, 502]


def test_maintaining_an_absent_or_unpartitioned_table_changes_nothing(store: TableStore):
    assert store.maintain("events").files_before == 0
    with store.writer(EVENTS) as writer:
        writer.write(events(1, 3).to_batches()[0])
    assert store.maintain("events").files_removed == 0
