"""Append-only day partitions, as the events table keeps them: a file per append, compacted later.

Layout: `<root>/<table>/date=YYYY-MM-DD/part-<created>-<id>.parquet`, the UTC day of a timestamp
column. An append publishes one new file per day it touches, each with one rename (one object
move), so a reader sees an appended row once or not yet, never a partial file; its cost is the
batch's, whatever the table holds. `compact` merges a day's files into one, during the
maintenance job: on a local root the day's folder is swapped for the compacted one in one step
(`exchange_folders`), so readers see the old files or the new one; on object storage the new
file is published first and the files it replaces are deleted after it, so a reader listing the
day in that moment sees its rows twice. A table kept before this layout (one
`<table>/part-00000.parquet`) is split into days, the same way, by its next append.
"""

import posixpath
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector.store.arrowio import conform, table_schema
from connector.store.backend import AppendResult, MaintenanceResult
from connector.store.buckets import staging_folder
from connector.store.exchange import swap_folder
from connector.store.storage import DATA_FILE, TableStore, TableWriter
from connector.store.tables import TableSpec


def append(
    store: TableStore, spec: TableSpec, rows: pa.Table, day_of: str, *, dedupe: bool = False
) -> AppendResult:
    """Add `rows` as one new file per UTC day of `day_of`; with `dedupe`, skip keys present."""
    days = pc.strftime(rows[day_of], format="%Y-%m-%d") if rows.num_rows else pa.array([])
    appended = skipped = written = 0
    touched: list[str] = []
    with store.lock(store.folder(spec.name)):
        _split_legacy(store, spec, day_of)
        for day in sorted(set(days.to_pylist())):
            part = rows.filter(pc.equal(days, day))
            if dedupe:
                fresh = part.filter(pc.invert(pc.is_in(part[spec.key], _keys(store, spec, day))))
                skipped, part = skipped + part.num_rows - fresh.num_rows, fresh
            if part.num_rows:
                written += _write_file(store, spec, day, part)
                appended += part.num_rows
                touched.append(day)
    return AppendResult(appended, skipped, tuple(touched), written)


def compact(store: TableStore, table: str) -> MaintenanceResult:
    """Merge each day partition holding several files into one file."""
    store.remove_stale_staging()
    before = store.published_files(table, None)
    by_day: dict[str, int] = {}
    for _, day in before:
        if day is not None:
            by_day[day] = by_day.get(day, 0) + 1
    removed = written = 0
    for day, count in sorted(by_day.items()):
        if count > 1:
            with store.lock(store.folder(table)):
                files, bytes_written = _compact_day(store, table, day)
            removed, written = removed + files, written + bytes_written
    after = len(store.published_files(table, None))
    return MaintenanceResult(table, len(before), after, removed, written)


def publish_folder(store: TableStore, staged: str, folder: str) -> None:
    """Make the staged folder's files the folder's files: in one step where the root allows."""
    if store.is_local and swap_folder(staged, folder):
        return
    new = {posixpath.relpath(path, staged): path for path in store.fs.find(staged)}
    old = [path for path in store.fs.find(folder) if posixpath.relpath(path, folder) not in new]
    for relative, path in new.items():
        store.publish(path, posixpath.dirname(f"{folder}/{relative}"), posixpath.basename(path))
    for path in old:
        store.fs.rm(path)


def _write_file(store: TableStore, spec: TableSpec, day: str, rows: pa.Table) -> int:
    """Publish `rows` as a new file of the day's partition; the bytes written."""
    schema = table_schema(spec, rows.schema)
    folder = store.folder(spec.name, day)
    with TableWriter(store, folder, schema, name=_new_file_name(store)) as writer:
        for batch in rows.to_batches():
            writer.write(batch)
    return writer.bytes_written


def _keys(store: TableStore, spec: TableSpec, day: str) -> pa.Array:
    """Every key the day's partition holds (read only when an append may be a retry)."""
    keys = [pa.array([], pa.int64())]
    for path, _ in store.published_files(spec.name, day):
        with store.fs.open(path, "rb") as handle:
            keys.extend(pq.read_table(handle, columns=[spec.key])[spec.key].chunks)
    return pa.concat_arrays([k.cast(pa.int64()) for k in keys])


def _compact_day(store: TableStore, table: str, day: str) -> tuple[int, int]:
    """Replace the day's files by one holding their rows; files replaced and bytes written."""
    files = [path for path, _ in store.published_files(table, day)]
    schema = store.schema(table, day)
    if len(files) < 2 or schema is None:
        return 0, 0
    with staging_folder(store) as scratch:
        staged = f"{scratch}/{store.partition_key}={day}"
        with TableWriter(store, staged, schema, name=_new_file_name(store)) as writer:
            for batch in _batches(store, files):
                writer.write(conform(batch, schema))
        publish_folder(store, staged, store.folder(table, day))
    return len(files), writer.bytes_written


def _split_legacy(store: TableStore, spec: TableSpec, day_of: str) -> None:
    """Turn a table kept in one unpartitioned file into day partitions (once)."""
    folder = store.folder(spec.name)
    legacy = f"{folder}/{DATA_FILE}"
    if not store.fs.exists(legacy):
        return
    with store.fs.open(legacy, "rb") as handle:
        table = pq.read_table(handle)
    days = pc.strftime(table[day_of], format="%Y-%m-%d")
    with staging_folder(store) as scratch:
        for day in sorted(set(days.to_pylist())):
            staged = f"{scratch}/{spec.name}/{store.partition_key}={day}"
            with TableWriter(store, staged, table.schema, name=_new_file_name(store)) as writer:
                for batch in table.filter(pc.equal(days, day)).to_batches():
                    writer.write(batch)
        publish_folder(store, f"{scratch}/{spec.name}", folder)


def _batches(store: TableStore, files: list[str]) -> Iterator[pa.RecordBatch]:
    for path in files:
        with store.fs.open(path, "rb") as handle:
            yield from pq.ParquetFile(handle).iter_batches()


def _new_file_name(store: TableStore) -> str:
    """A file name that sorts by creation time and never repeats."""
    return f"part-{int(store.clock()):010d}-{uuid.uuid4().hex[:12]}.parquet"
