"""Key-bucketed files of an unpartitioned table: naming, hashing, the snapshot split, upserts.

A table of ``B = 2**k`` buckets keeps the rows whose int64 key hashes to bucket ``b`` in
``part-{b:05d}-of-{B:05d}.parquet`` (Fibonacci hashing: the top ``k`` bits of
``key * 0x9E3779B97F4A7C15 mod 2**64``); ``B = 1`` is the single ``part-00000.parquet``. ``B`` is
the smallest power of two that keeps ``rows / B <= bucket_rows``; empty buckets have no file and
every file of a table has the same schema; `row_counts` remembers each file's rows beside them.
An upsert rewrites only the buckets its keys hash to, one file at a time, each with one rename
(one object move on fsspec filesystems).

A snapshot streams into one staging file; on publish it is split into its buckets with bounded
memory: rows are first spilled into at most ``MAX_GROUPS`` group files by the top bits of the
hash, then each group is sorted by bucket and key and cut into its bucket files. On a local root
the new folder replaces the old one in one step (`exchange_folders`): readers list all old or all
new files. Where that is impossible (fsspec roots, filesystems without ``RENAME_EXCHANGE``) the
bucket files are moved in one by one and the files the new table no longer has (another bucket
count, emptied buckets) are deleted last: until then a reader may see a bucket both as it was and
as it is now. A publish that dies inside that window and changed the bucket count leaves both
sets; upserts refuse such a table until the next snapshot replaces it.
"""

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from typing import Any, Protocol

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector.store import row_counts
from connector.store.arrowio import conform, table_schema, widened
from connector.store.backend import UpsertResult
from connector.store.exchange import fsync_path, swap_folder
from connector.store.tables import TableSpec

# Rows per bucket at most: 100 keys of a 10M-row table touch < 2% of it.
BUCKET_ROWS = 2048
SINGLE_FILE = "part-00000.parquet"
# The snapshot split spills into group files of about GROUP_ROWS rows (at most MAX_GROUPS, one
# open file each), SPILL_ROWS staged rows at a time, then sorts one group at a time in memory.
GROUP_ROWS = 65_536
MAX_GROUPS = 128
SPILL_ROWS = 32_768
SPILL_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)
_NAME = re.compile(r"part-(\d{5,})(?:-of-(\d{5,}))?\.parquet")


class FileStore(Protocol):
    """What bucket files need from the store they live in (`TableStore`)."""

    fs: fsspec.AbstractFileSystem
    is_local: bool
    bucket_rows: int

    def new_staging_folder(self) -> str: ...

    def write_file(
        self,
        path: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        durable: bool = True,
    ) -> tuple[int, int]: ...

    def move_file(self, staged: str, final: str) -> None: ...

    def lock(self, folder: str) -> AbstractContextManager[None]: ...


def bucket_count(rows: int, bucket_rows: int) -> int:
    """The smallest power of two B with ``rows / B <= bucket_rows``."""
    count = 1
    while rows > count * bucket_rows:
        count *= 2
    return count


def bucket_file(bucket: int, count: int) -> str:
    """The file name of a bucket of a table of `count` buckets."""
    return SINGLE_FILE if count == 1 else f"part-{bucket:05d}-of-{count:05d}.parquet"


def bucket_of(path: str) -> tuple[int, int]:
    """The bucket a data file holds and the bucket count of its table, from its name."""
    match = _NAME.fullmatch(_name(path))
    if match is None:
        raise ValueError(f"not a bucket file: {_name(path)!r}")
    return int(match.group(1)), int(match.group(2) or 1)


def bucket_ids(keys: pa.Array | pa.ChunkedArray, count: int) -> np.ndarray:
    """The bucket of each key: the top bits of its Fibonacci hash (nulls go to bucket 0)."""
    values = pc.fill_null(keys, 0).to_numpy().astype(np.int64).view(np.uint64)
    bits = count.bit_length() - 1
    if bits == 0:
        return np.zeros(len(values), np.int64)
    return ((values * _FIBONACCI) >> np.uint64(64 - bits)).astype(np.int64)


def published_files(fs: fsspec.AbstractFileSystem, folder: str) -> list[str]:
    """The data files of an unpartitioned table folder, in name order."""
    return [str(info["name"]) for info in _listed(fs, folder)]


def table_rows(fs: fsspec.AbstractFileSystem, folder: str) -> int:
    """The rows of an unpartitioned table, from remembered counts (footers where stale)."""
    return row_counts.total_rows(fs, folder, _listed(fs, folder))


def publish_snapshot(store: FileStore, staged: str, key: str, rows: int, folder: str) -> int:
    """Split a staged snapshot into its buckets and publish them; the bytes published."""
    count = bucket_count(rows, store.bucket_rows)
    staging = staged.rsplit("/", 1)[0]
    out = f"{staging}/table"
    store.fs.makedirs(out, exist_ok=True)
    if count == 1:
        store.fs.mv(staged, f"{out}/{SINGLE_FILE}")
        written = {SINGLE_FILE: (rows, store.fs.size(f"{out}/{SINGLE_FILE}"))}
    else:
        written = _split(store, staged, key, (rows, count), out)
        store.fs.rm(staged)
    with store.lock(folder):
        _publish_folder(store, out, list(written), folder)
        _recount(store, staging, folder, {name: rows for name, (rows, _) in written.items()})
    return sum(size for _, size in written.values())


def _split(
    store: FileStore, staged: str, key: str, shape: tuple[int, int], out: str
) -> dict[str, tuple[int, int]]:
    """Write the bucket files of a staged file of `shape` (rows, buckets) into `out`.

    Returns the (rows, bytes) of each file by name.
    """
    rows, count = shape
    groups = min(count, MAX_GROUPS, bucket_count(rows, GROUP_ROWS))
    written: dict[str, tuple[int, int]] = {}
    with _spill_folder(store, out) as spill:
        for group in _groups(store, staged, key, groups, spill):
            for bucket, rows_of_bucket in _by_bucket(group, key, count):
                name, batches = bucket_file(bucket, count), rows_of_bucket.to_batches()
                path = f"{out}/{name}"
                written[name] = store.write_file(path, group.schema, batches, durable=False)
    _make_durable(store, [f"{out}/{name}" for name in written])
    return written


def _recount(store: FileStore, staging: str, folder: str, known: Mapping[str, int]) -> int:
    """Remember the row count of each bucket file beside them (`row_counts`); the total."""
    files = _listed(store.fs, folder)
    counts = row_counts.counted(store.fs, folder, files, known)
    final = f"{folder}/{row_counts.COUNTS_FILE}"
    if len(files) > 1:
        store.fs.pipe_file(f"{staging}/{row_counts.COUNTS_FILE}", row_counts.encoded(counts))
        store.move_file(f"{staging}/{row_counts.COUNTS_FILE}", final)
    elif store.fs.exists(final):
        store.fs.rm(final)
    return sum(rows for rows, _ in counts.values())


def _listed(fs: fsspec.AbstractFileSystem, folder: str) -> list[dict[str, Any]]:
    """Name, size and version details of a table folder's data files, in name order."""
    try:
        entries = fs.ls(folder, detail=True)
    except FileNotFoundError:
        return []
    found = [e for e in entries if e["type"] == "file" and _NAME.fullmatch(_name(e["name"]))]
    return sorted(found, key=lambda entry: str(entry["name"]))


def _groups(store: FileStore, staged: str, key: str, groups: int, spill: str) -> Iterator[pa.Table]:
    """The staged rows one group at a time (all at once when they fit one group)."""
    if groups == 1:
        with store.fs.open(staged, "rb") as handle:
            yield pq.read_table(handle)
        return
    for path in _spill_groups(store, staged, key, groups, spill):
        yield _read_group(path)


def _make_durable(store: FileStore, paths: list[str]) -> None:
    """Flush written local files to disk (after the last write: one journal commit, not many)."""
    if not store.is_local:
        return  # an object exists once its upload completed
    for path in paths:
        fsync_path(path)


@contextmanager
def _spill_folder(store: FileStore, out: str) -> Iterator[str]:
    """A local folder for group files: beside the staging on local roots, else a temp folder."""
    if store.is_local:
        path = f"{out}-groups"
        os.makedirs(path)
    else:
        path = tempfile.mkdtemp(prefix="portabilling-split-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _spill_groups(store: FileStore, staged: str, key: str, groups: int, spill: str) -> list[str]:
    """Spill a staged file's rows into group files by the top bits of the key hash.

    Group files are Arrow IPC streams: appending a slice costs no per-row-group footer metadata,
    which for 256 Parquet writers of 10M rows grew to gigabytes.
    """
    with ExitStack() as open_files, store.fs.open(staged, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        for chunk in _chunks(parquet):
            for group, rows in _by_bucket(chunk, key, groups, sort_keys=False):
                if group not in writers:
                    path, schema = _group_path(spill, group), parquet.schema_arrow
                    writer = pa.ipc.new_stream(path, schema, options=SPILL_OPTIONS)
                    writers[group] = open_files.enter_context(writer)
                writers[group].write_table(rows)
    return [_group_path(spill, group) for group in sorted(writers)]


def _chunks(parquet: pq.ParquetFile) -> Iterator[pa.Table]:
    """The file's rows, whole row groups of about SPILL_ROWS rows at a time.

    (`iter_batches` reads ahead: 180 MB more at 3M rows.)
    """
    count = parquet.num_row_groups
    step = max(1, SPILL_ROWS // max(1, parquet.metadata.row_group(0).num_rows)) if count else 1
    for first in range(0, count, step):
        yield parquet.read_row_groups(range(first, min(first + step, count)))


def _read_group(path: str) -> pa.Table:
    """A spilled group's rows; its file is removed."""
    with pa.OSFile(path) as source:
        table = pa.ipc.open_stream(source).read_all().combine_chunks()  # one copy, cheap takes
    os.remove(path)
    return table


def _group_path(spill: str, group: int) -> str:
    return f"{spill}/group-{group:05d}.arrows"


def _by_bucket(
    table: pa.Table, key: str, count: int, *, sort_keys: bool = True
) -> Iterator[tuple[int, pa.Table]]:
    """The non-empty buckets of `table` with their rows (sorted by key unless told not to).

    Each bucket's rows are taken on their own, so only one bucket's copy exists at a time.
    """
    buckets = bucket_ids(table[key], count)
    keys = pc.fill_null(table[key], 0).to_numpy()
    order = np.lexsort((keys, buckets)) if sort_keys else np.argsort(buckets, kind="stable")
    ordered = buckets[order]
    starts = np.flatnonzero(np.diff(ordered, prepend=-1))
    ends = [*starts[1:], len(ordered)]
    for start, end in zip(starts, ends, strict=True):
        yield int(ordered[start]), table.take(order[start:end])


def _publish_folder(store: FileStore, staged: str, names: list[str], folder: str) -> None:
    """Replace the table folder by the staged one: in one step where possible, else file by file."""
    if store.is_local and swap_folder(staged, folder):
        return
    store.fs.makedirs(folder, exist_ok=True)
    for name in names:
        store.move_file(f"{staged}/{name}", f"{folder}/{name}")
    stale = [p for p in published_files(store.fs, folder) if _name(p) not in set(names)]
    if stale:
        store.fs.rm(stale)


def upsert(
    store: FileStore,
    spec: TableSpec,
    files: list[str],
    rows: pa.Table,
    delete_keys: Iterable[int],
) -> UpsertResult:
    """Apply a batch to the buckets it touches, one atomic file replace per bucket.

    `files` are the table's published files (at least one). Each touched bucket is streamed a
    row group at a time, so even an old single-file table upserts in bounded memory. A batch
    bringing a column the table lacks rewrites every bucket with the wider schema, the last file
    last: `schema()` reads the last file, so the widening is committed when every file has it.
    """
    count, folder = _bucket_count_of(spec, files), files[0].rsplit("/", 1)[0]
    with store.fs.open(files[-1], "rb") as handle:
        published = pq.read_schema(handle)
    kept, deleting = changes(rows, spec.key, delete_keys)
    schema = _upsert_schema(spec, published, kept.schema)
    rewrite = _BucketRewrite(spec.key, schema, deleting)
    kept = pa.Table.from_batches([conform(b, schema) for b in kept.to_batches()], schema)
    touched = set(bucket_ids(kept[spec.key], count)) | set(bucket_ids(deleting, count))
    if not schema.equals(published):
        touched |= {bucket_of(path)[0] for path in files}
    existing = {_name(path) for path in files}
    with staging_folder(store) as staging:
        staged = {}
        for bucket in sorted(touched):
            name = bucket_file(bucket, count)
            old = f"{folder}/{name}" if name in existing else None
            incoming = kept.filter(pa.array(bucket_ids(kept[spec.key], count) == bucket))
            staged[name] = rewrite.stage(store, old, incoming, f"{staging}/{name}")
        _make_durable(store, [path for path in staged.values() if path is not None])
        for name, path in staged.items():
            _replace_bucket(store, path, f"{folder}/{name}")
        total = _recount(store, staging, folder, rewrite.rows)
    inserted = kept.num_rows - rewrite.updated
    return UpsertResult(inserted, rewrite.updated, rewrite.deleted, total, rewrite.bytes_written)


def changes(rows: pa.Table, key: str, delete_keys: Iterable[int]) -> tuple[pa.Table, pa.Array]:
    """The rows to upsert (the last of each key, deleted keys dropped) and the keys to delete."""
    rows = last_row_per_key(rows, key)
    deleting = pa.array(sorted({int(k) for k in delete_keys}), pa.int64())
    return rows.filter(pc.invert(pc.is_in(rows[key], deleting))), deleting


def _bucket_count_of(spec: TableSpec, files: list[str]) -> int:
    """The one bucket count of a table's files (two: a file-by-file publish was interrupted)."""
    counts = {bucket_of(path)[1] for path in files}
    if len(counts) > 1:
        raise ValueError(
            f"{spec.name} holds files of an interrupted snapshot publish; run a snapshot first"
        )
    return counts.pop()


def _upsert_schema(spec: TableSpec, published: pa.Schema, incoming: pa.Schema) -> pa.Schema:
    """The table's schema widened by columns the batch brings."""
    schema = table_schema(spec, published)
    return widened(schema, [f for f in incoming if f.name not in schema.names])


@contextmanager
def staging_folder(store: FileStore) -> Iterator[str]:
    """A fresh staging folder, removed afterwards."""
    staging = store.new_staging_folder()
    try:
        yield staging
    finally:
        # Object stores have no empty folders: once its files moved, the staging folder is gone.
        with suppress(FileNotFoundError):
            store.fs.rm(staging, recursive=True)


class _BucketRewrite:
    """Writes buckets as they are after a batch, counting what changed and the bytes written."""

    def __init__(self, key: str, schema: pa.Schema, deleting: pa.Array) -> None:
        self.key, self.schema, self.deleting = key, schema, deleting
        self.updated = self.deleted = self.bytes_written = 0
        self.rows: dict[str, int] = {}  # rows of each bucket file written, by name

    def stage(self, store: FileStore, old: str | None, incoming: pa.Table, path: str) -> str | None:
        """Write the bucket's new file to `path`; None when the bucket is left empty."""
        batches = self._rows_after(store, old, incoming)
        rows, size = store.write_file(path, self.schema, batches, durable=False)
        if rows == 0:
            return None
        self.bytes_written += size
        self.rows[path.rsplit("/", 1)[-1]] = rows
        return path

    def _rows_after(
        self, store: FileStore, old: str | None, incoming: pa.Table
    ) -> Iterator[pa.RecordBatch]:
        """The old rows neither replaced nor deleted, a row group at a time, then the new rows."""
        if old is not None:
            replacing = incoming[self.key].combine_chunks()
            with store.fs.open(old, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                for index in range(parquet.num_row_groups):
                    for batch in parquet.read_row_group(index).to_batches():
                        yield self._survivors(conform(batch, self.schema), replacing)
        yield from incoming.to_batches()

    def _survivors(self, batch: pa.RecordBatch, replacing: pa.Array) -> pa.RecordBatch:
        keys = batch.column(self.key)
        is_deleted, is_replaced = pc.is_in(keys, self.deleting), pc.is_in(keys, replacing)
        self.deleted += pc.sum(is_deleted).as_py() or 0
        self.updated += pc.sum(is_replaced).as_py() or 0
        return batch.filter(pc.invert(pc.or_(is_deleted, is_replaced)))


def _replace_bucket(store: FileStore, staged: str | None, final: str) -> None:
    """Publish one bucket file atomically, or remove it when the bucket is now empty."""
    if staged is not None:
        store.move_file(staged, final)
    elif store.fs.exists(final):
        store.fs.rm(final)


def last_row_per_key(rows: pa.Table, key: str) -> pa.Table:
    """`rows` without earlier duplicates of a key."""
    keys = rows[key].to_pylist()
    if None in keys:
        raise ValueError(f"rows without {key}")
    last = {k: i for i, k in enumerate(keys)}
    return rows if len(last) == len(keys) else rows.take(sorted(last.values()))


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
