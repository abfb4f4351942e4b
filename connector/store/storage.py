"""Typed Parquet tables with atomic publish, on a local path or any fsspec URL.

Layout: an unpartitioned table is ``<root>/<table>/part-00000.parquet`` up to ``bucket_rows``
rows, above that ``B`` key-bucketed files ``<root>/<table>/part-{b:05d}-of-{B:05d}.parquet`` so an
upsert rewrites only the buckets its keys fall in (`connector.store.buckets`, which also says how a
bucketed snapshot is published). A partitioned table holds one file per partition, hive style
(``<root>/xdrs/date=2024-01-01/part-00000.parquet``). A writer streams record batches into row
groups of a staging file under ``<root>/_staging/<created>-<uuid>/`` and publishes it with one
rename (one object move on fsspec filesystems), so a table folder only ever holds committed files
and a failed or killed run leaves the previous table exactly as it was.
Staging left by killed runs is removed by the next writer once it is older than ``staging_ttl_s``.

Schemas only widen: a writer starts from the spec's schema united with the table's published
schema (all partitions for a partitioned table), so a column the API once added stays. Partitions
written before a column appeared keep their narrower files; readers that take the first file's
schema (DuckDB's default, ``pyarrow.dataset``) see the new column with DuckDB's
``union_by_name = true`` or ``dataset(..., schema=store.schema("xdrs"))``; `TableStore.read`
unites them itself.
"""

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from connector.store import buckets
from connector.store.arrowio import conform, table_schema, widened
from connector.store.backend import PARQUET, AppendResult, MaintenanceResult, UpsertResult
from connector.store.locks import folder_lock
from connector.store.tables import TableSpec

DATA_FILE = buckets.SINGLE_FILE
STAGING_DIR = "_staging"
COMPRESSION = "zstd"
# Pages are buffered into row groups of this many rows: few enough row groups for fast scans
# and small file metadata, while memory stays bounded (~8 MB of Arrow data for accounts).
ROW_GROUP_ROWS = 16_384
# Arrow buffers the file's bytes itself and hands the Python file this much at a time: the writer
# then needs the GIL a few times a row group instead of once per column page, and a page-reading
# thread holding it no longer stalls the write (a 16k-row group: ~20 ms instead of ~440 ms).
SINK_BUFFER_BYTES = 1 << 20


class TableStore:
    """The Parquet tables under one root (local path or fsspec URL such as ``s3://b/p``)."""

    format = PARQUET

    def __init__(
        self,
        root: str,
        *,
        partition_key: str = "date",
        staging_ttl_s: float = 6 * 3600,
        row_group_rows: int = ROW_GROUP_ROWS,
        bucket_rows: int = buckets.BUCKET_ROWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        fs, path = fsspec.core.url_to_fs(root)
        if not isinstance(fs, LocalFileSystem):
            # Writers on other machines change tables at any moment: no listing is kept.
            fs, path = fsspec.core.url_to_fs(root, use_listings_cache=False)
        self.fs: fsspec.AbstractFileSystem = fs
        self.is_local = isinstance(fs, LocalFileSystem)
        self.root: str = os.path.abspath(path) if self.is_local else path.rstrip("/")
        self.partition_key = partition_key
        self.staging_ttl_s = staging_ttl_s
        self.row_group_rows = row_group_rows
        self.bucket_rows = bucket_rows
        self.clock = clock

    def table_uri(self, table: str, partition: str | None = None) -> str:
        """The folder (URI on fsspec filesystems) holding a table's or partition's data file."""
        path = self.folder(table, partition)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def writer(self, spec: TableSpec, partition: str | None = None) -> "TableWriter":
        """A writer that replaces the table (or one partition) when its `with` block succeeds."""
        self.remove_stale_staging()
        start = table_schema(spec, self.schema(spec.name))
        key = spec.key if partition is None else None
        return TableWriter(self, self.folder(spec.name, partition), start, key)

    def read(self, table: str, partition: str | None = None) -> pa.Table | None:
        """The published table or partition; all partitions (with the partition column) if none."""
        files = self.published_files(table, partition)
        if not files:
            return None
        schema = self.schema(table, partition)
        assert schema is not None
        parts = [self._read_file(path, schema, part) for path, part in files]
        return pa.concat_tables(parts)

    def lookup(self, table: str, column: str, values: Sequence[Any]) -> pa.Table | None:
        """The rows (of every partition) whose `column` is one of `values`; None if absent."""
        files = self.published_files(table, None)
        if not files:
            return None
        schema = self.schema(table)
        assert schema is not None
        wanted = pc.field(column).isin(pa.array(values, schema.field(column).type))
        return pa.concat_tables(
            [self._read_file(path, schema, part, wanted) for path, part in files]
        )

    def row_count(self, table: str, partition: str | None = None) -> int:
        """Rows published in a table or partition, from the Parquet footers (no data read).

        A bucketed table's counts are remembered beside its files (`connector.store.row_counts`).
        """
        files = self.published_files(table, partition)
        if files and partition is None and files[0][1] is None:
            return buckets.table_rows(self.fs, self.folder(table, None))
        rows = 0
        for path, _ in files:
            with self.fs.open(path, "rb") as handle:
                rows += pq.ParquetFile(handle).metadata.num_rows
        return rows

    def schema(self, table: str, partition: str | None = None) -> pa.Schema | None:
        """The published schema; united over all partitions when no partition is named.

        The files of an unpartitioned table share one schema: the last one's footer is read.
        """
        files = self.published_files(table, partition)
        if files and files[0][1] is None:
            files = files[-1:]
        schemas = [self._read_schema(path) for path, _ in files]
        if not schemas:
            return None
        merged = schemas[0]
        for extra in schemas[1:]:
            merged = widened(merged, [f for f in extra if f.name not in merged.names])
        return merged

    def upsert(
        self, spec: TableSpec, rows: pa.Table, delete_keys: Iterable[int] = ()
    ) -> UpsertResult:
        """Replace rows by key and drop deleted keys, rewriting only the buckets they touch.

        A key both in `rows` and in `delete_keys` ends up deleted. Within `rows` the last row of a
        key wins. Only for unpartitioned tables. Holds the table's lock throughout, so no other
        upsert or publish of the table interleaves with this read-modify-write. A table that does
        not exist yet is written as a snapshot would write it.
        """
        files = self.published_files(spec.name, None)
        if any(part is not None for _, part in files):
            raise ValueError(f"upsert needs an unpartitioned table; {spec.name} is partitioned")
        with self.lock(self.folder(spec.name, None)):
            files = self.published_files(spec.name, None)
            if files:
                paths = [path for path, _ in files]
                return buckets.upsert(self, spec, paths, rows, delete_keys)
            kept, _ = buckets.changes(rows, spec.key, delete_keys)
            with self.writer(spec) as writer:
                for batch in kept.to_batches():
                    writer.write(batch)
            return UpsertResult(kept.num_rows, 0, 0, writer.rows, writer.bytes_written)

    def append(
        self, spec: TableSpec, rows: pa.Table, day_of: str, *, dedupe: bool = False
    ) -> AppendResult:
        """Add rows as new files of their UTC days' partitions (see `connector.store.daily`)."""
        from connector.store import daily  # daily builds on this module

        return daily.append(self, spec, rows, day_of, dedupe=dedupe)

    def maintain(self, table: str) -> MaintenanceResult:
        """Compact every partition of the table that holds more than one file into one."""
        from connector.store import daily

        return daily.compact(self, table)

    def remove_stale_staging(self) -> None:
        """Remove staging folders of runs that died more than `staging_ttl_s` ago."""
        staging = f"{self.root}/{STAGING_DIR}"
        if not self.fs.exists(staging):
            return
        deadline = self.clock() - self.staging_ttl_s
        for entry in self.fs.ls(staging, detail=False):
            if _staging_created(entry) < deadline:
                self.fs.rm(entry, recursive=True)

    def new_staging_folder(self) -> str:
        """A fresh staging folder whose name records its creation time."""
        path = f"{self.root}/{STAGING_DIR}/{int(self.clock())}-{uuid.uuid4().hex}"
        self.fs.makedirs(path, exist_ok=True)
        return path

    def open_output(self, path: str) -> IO[bytes]:
        """A binary file opened for writing."""
        if self.is_local:
            return open(path, "wb")  # the writer owns and closes it
        return self.fs.open(path, "wb")

    def write_file(
        self,
        path: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        durable: bool = True,
    ) -> tuple[int, int]:
        """Stream `batches` into one Parquet file (synced to disk if `durable`); (rows, bytes)."""
        sink, rows = self.open_output(path), 0
        stream = pa.BufferedOutputStream(pa.PythonFile(sink), SINK_BUFFER_BYTES)
        with pq.ParquetWriter(stream, schema, compression=COMPRESSION) as parquet:
            for group in _row_groups(batches, schema, self.row_group_rows):
                parquet.write_table(group, row_group_size=self.row_group_rows)
                rows += group.num_rows
        stream.flush()
        size = stream.tell()
        if durable:
            _flush_durably(sink)
        stream.close()
        return rows, size

    def publish(self, staged: str, folder: str, name: str = DATA_FILE) -> None:
        """Make `staged` the folder's file `name` in one rename / object move."""
        with self.lock(folder):
            self.fs.makedirs(folder, exist_ok=True)
            self.move_file(staged, f"{folder}/{name}")

    def publish_table(self, staged: str, key: str, rows: int, folder: str) -> int:
        """Publish a staged snapshot of an unpartitioned table in its buckets; bytes published."""
        return buckets.publish_snapshot(self, staged, key, rows, folder)

    def move_file(self, staged: str, final: str) -> None:
        """Put `staged` at `final` in one rename / object move."""
        if self.is_local:
            os.replace(staged, final)
            buckets.fsync_path(os.path.dirname(final))
        else:
            self.fs.mv(staged, final)

    def lock(self, folder: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive access to a table folder: publishes and upserts of it never interleave."""
        return folder_lock(self.fs, self.root, folder)

    def folder(self, table: str, partition: str | None = None) -> str:
        """The storage path of a table's (or one partition's) folder."""
        check_segment(table)
        if partition is None:
            return f"{self.root}/{table}"
        check_segment(partition)
        return f"{self.root}/{table}/{self.partition_key}={partition}"

    def published_files(
        self, table: str, partition: str | None = None
    ) -> list[tuple[str, str | None]]:
        """(data file, partition value) pairs of a table, or of one partition."""
        folder = self.folder(table, partition)
        if partition is None and (data_files := buckets.published_files(self.fs, folder)):
            return [(path, None) for path in data_files]
        if self.fs.exists(f"{folder}/{DATA_FILE}"):
            return [(f"{folder}/{DATA_FILE}", partition)]
        if partition is not None:
            return [(path, partition) for path in sorted(self.fs.glob(f"{folder}/*.parquet"))]
        pattern = f"{folder}/{self.partition_key}=*/*.parquet"
        found = sorted(self.fs.glob(pattern))
        return [(path, path.rsplit("/", 2)[-2].split("=", 1)[1]) for path in found]

    def _read_schema(self, path: str) -> pa.Schema:
        with self.fs.open(path, "rb") as handle:
            return pq.read_schema(handle)

    def _read_file(
        self,
        path: str,
        schema: pa.Schema,
        partition: str | None,
        where: pc.Expression | None = None,
    ) -> pa.Table:
        with self.fs.open(path, "rb") as handle:
            table = pq.read_table(handle)
        table = pa.Table.from_batches([conform(b, schema) for b in table.to_batches()], schema)
        if where is not None:
            table = table.filter(where)
        if partition is None:
            return table
        return table.append_column(self.partition_key, pa.repeat(partition, table.num_rows))


class TableWriter:
    """Streams record batches into a staged Parquet file; publishes it on a clean exit."""

    def __init__(
        self,
        store: TableStore,
        folder: str,
        schema: pa.Schema,
        key: str | None = None,
        name: str = DATA_FILE,
    ) -> None:
        self.store = store
        self.folder = folder
        self.key = key  # set for an unpartitioned table: published in key buckets
        self.name = name  # otherwise: the file's name in its folder
        self.schema = schema
        self.rows = 0
        self.bytes_written = 0
        self._staging = store.new_staging_folder()
        self._generation = 0
        self._sink: IO[bytes] | None = None
        self._stream: pa.BufferedOutputStream | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._open()

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._close()
            if exc_type is None:
                self._publish()
        finally:
            # Object stores have no empty folders: once its file moved, the staging folder is gone.
            with contextlib.suppress(FileNotFoundError):
                self.store.fs.rm(self._staging, recursive=True)

    def _publish(self) -> None:
        if self.key is not None:
            staged, rows = self._staged_path, self.rows
            self.bytes_written = self.store.publish_table(staged, self.key, rows, self.folder)
            return
        self.bytes_written = self.store.fs.size(self._staged_path)
        self.store.publish(self._staged_path, self.folder, self.name)

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one batch (row groups fill up to `row_group_rows`); new columns widen first."""
        new_fields = [f for f in batch.schema if f.name not in self.schema.names]
        if new_fields:
            self._widen(new_fields)
        if batch.num_rows == 0:
            return
        self._pending.append(conform(batch, self.schema))
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= self.store.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered batches as row groups."""
        if not self._pending:
            return
        assert self._parquet is not None and self._stream is not None
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._parquet.write_table(table, row_group_size=self.store.row_group_rows)
        self._pending, self._pending_rows = [], 0
        self.bytes_written = self._stream.tell()

    @property
    def _staged_path(self) -> str:
        return f"{self._staging}/part-{self._generation:05d}.parquet"

    def _open(self) -> None:
        self._sink = self.store.open_output(self._staged_path)
        self._stream = pa.BufferedOutputStream(pa.PythonFile(self._sink), SINK_BUFFER_BYTES)
        self._parquet = pq.ParquetWriter(self._stream, self.schema, compression=COMPRESSION)

    def _close(self) -> None:
        if self._parquet is not None:
            self._flush()
            self._parquet.close()
        if self._stream is not None and self._sink is not None:
            self._stream.flush()  # Arrow's buffer into the Python file, then that file's flush
            _flush_durably(self._sink)
            self._stream.close()  # closes the Python file too
        self._parquet = self._stream = self._sink = None

    def _widen(self, new_fields: list[pa.Field]) -> None:
        """Switch to a wider schema, copying the rows written so far one row group at a time."""
        self._close()
        previous = self._staged_path
        self.schema = widened(self.schema, new_fields)
        self._generation += 1
        self._open()
        assert self._parquet is not None
        with self.store.fs.open(previous, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            for index in range(parquet.num_row_groups):
                for batch in parquet.read_row_group(index).to_batches():
                    self._parquet.write_batch(conform(batch, self.schema))
        self.store.fs.rm(previous)


def _row_groups(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int
) -> Iterator[pa.Table]:
    """`batches` gathered into tables of at least `rows` rows (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= rows:
            yield pa.Table.from_batches(pending, schema)
            pending, pending_rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema)


def check_segment(name: str) -> None:
    """Reject names that would escape their folder or hide from readers."""
    if not name or "/" in name or "\\" in name or name[0] in "._":
        raise ValueError(f"invalid table or partition name: {name!r}")


def _staging_created(path: str) -> float:
    """Creation time recorded in a staging folder's name (0 if unreadable: treat as stale)."""
    try:
        return float(path.rstrip("/").rsplit("/", 1)[-1].split("-", 1)[0])
    except ValueError:
        return 0.0


def _flush_durably(sink: Any) -> None:
    """Flush a local file to disk so the rename publishes complete bytes after a crash."""
    sink.flush()
    # In-memory and remote files have no descriptor: their close() is the commit.
    with contextlib.suppress(OSError, ValueError):
        os.fsync(sink.fileno())
