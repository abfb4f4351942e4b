"""The events table's day partitions on S3 (a local moto server): appends and compaction."""

from datetime import timedelta

import pyarrow.parquet as pq
import s3fs

from connector.store.storage import TableStore
from connector.store.tables import EVENTS
from tests.tables.test_daily import DAY, events


def stored_ids(s3: s3fs.S3FileSystem, root: str) -> list[int]:
    table = pq.read_table(f"{root.removeprefix('s3://')}/events", filesystem=s3)
    return sorted(table["i_event"].to_pylist())


def objects(s3: s3fs.S3FileSystem, root: str) -> list[str]:
    """Every object under the events table, relative to it."""
    folder = f"{root.removeprefix('s3://')}/events/"
    return sorted(path.removeprefix(folder) for path in s3.find(folder))


def test_appends_then_compaction_on_s3(s3: s3fs.S3FileSystem, s3_root: str):
    store = TableStore(s3_root)
    for first in (1, 101, 201):
        store.append(EVENTS, events(first, 100, step_s=30.0), "received_at")
    assert len(objects(s3, s3_root)) == 6  # three appends, each over two days

    result = store.maintain("events")

    assert (result.files_before, result.files_after) == (6, 2)
    assert [o.split("/")[0] for o in objects(s3, s3_root)] == ["date=2026-11-30", "date=2026-12-01"]
    assert stored_ids(s3, s3_root) == list(range(1, 301))
    assert not s3.find(f"{s3_root.removeprefix('s3://')}/_staging/")


def test_a_retried_append_on_s3_skips_what_is_there(s3: s3fs.S3FileSystem, s3_root: str):
    store = TableStore(s3_root)
    store.append(EVENTS, events(1, 40), "received_at")

    retried = store.append(EVENTS, events(1, 60), "received_at", dedupe=True)

    assert (retried.appended, retried.skipped) == (20, 40)
    assert stored_ids(s3, s3_root) == list(range(1, 61))


def test_a_one_file_table_on_s3_is_split_into_days(s3: s3fs.S3FileSystem, s3_root: str):
    store = TableStore(s3_root)
    with store.writer(EVENTS) as writer:
        for batch in events(1, 50, step_s=3.0).to_batches():
            writer.write(batch)

    store.append(EVENTS, events(100, 2, at=DAY + timedelta(days=2)), "received_at")

    assert "part-00000.parquet" not in objects(s3, s3_root)
    assert {o.split("/")[0] for o in objects(s3, s3_root)} == {
        "date=2026-11-30",
        "date=2026-12-01",
        "date=2026-12-02",
    }
    assert stored_ids(s3, s3_root) == [*range(1, 51), 100, 101]
