"""Delta Lake tables (delta-rs): one commit per publish, MERGE upserts, time travel.

Layout: each table is a Delta table at ``<root>/<table>`` (a local path or ``s3://...``);
partitioned tables (xDRs, vendor xDRs, events) are partitioned by the string column ``date``
(``YYYY-MM-DD``). A snapshot is one overwrite commit, a day one overwrite of its partition, an
upsert one MERGE, an append one append (or, deduplicated, one insert-only MERGE). Readers see a
table version, never a half-written one; a failed or killed writer leaves at most unreferenced
data files that `maintain` vacuums.

Writers on different processes or machines need no lock: delta-rs commits optimistically (a
commit file is created only if absent; on S3 by a conditional put) and a commit that conflicts
with one made since its read fails; this module then retries the whole operation on the new
version, so no update is lost. S3 endpoints and credentials come from the standard AWS
environment variables (``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``, ...).
"""

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector.api.client import retry_delay
from connector.api.errors import ConfigurationError
from connector.store.arrowio import conform, table_schema, widened
from connector.store.backend import DELTA, AppendResult, MaintenanceResult, UpsertResult
from connector.store.buckets import last_row_per_key
from connector.store.storage import check_segment
from connector.store.tables import UTC_TIMESTAMP, TableSpec

try:
    from deltalake import CommitProperties, DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "PORTABILLING_TABLE_FORMAT=delta needs the deltalake package: "
        "pip install 'portabilling-dagster[delta]'"
    ) from missing

RETENTION_ENV = "PORTABILLING_DELTA_RETENTION_HOURS"
DEFAULT_RETENTION_HOURS = 7 * 24
# A conflicting commit re-runs the whole operation on the new version, this many times at most.
COMMIT_ATTEMPTS = 12
RETRY_BASE_S = 0.05
RETRY_CAP_S = 2.0
# Marks the merge source's rows that delete their key (never stored).
DELETES = "_pb_delete"
SOURCE, TARGET = "s", "t"
T = TypeVar("T")


class DeltaTables:
    """The Delta tables under one root (a local folder or an ``s3://bucket/prefix`` URL)."""

    format = DELTA

    def __init__(
        self,
        root: str,
        *,
        partition_key: str = "date",
        retention_hours: int | None = None,
        storage_options: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.root = root.rstrip("/") if "://" in root else os.path.abspath(root)
        self.partition_key = partition_key
        self.retention_hours = (
            retention_hours if retention_hours is not None else retention_from(os.environ)
        )
        self.storage_options = dict(
            storage_options if storage_options is not None else s3_options(self.root, os.environ)
        )
        self.sleep = sleep
        self.rand = rand

    def table_uri(self, table: str, partition: str | None = None) -> str:
        """The table's root URI (a partition is read through its table, filtered on `date`)."""
        check_segment(table)
        if partition is not None:
            _check_partition(partition)
        return f"{self.root}/{table}"

    def writer(self, spec: TableSpec, partition: str | None = None) -> "DeltaWriter":
        """A writer that overwrites the table (or one partition) in one commit on a clean exit."""
        return DeltaWriter(self, spec, partition, table_schema(spec, self.schema(spec.name)))

    def upsert(
        self, spec: TableSpec, rows: pa.Table, delete_keys: Iterable[int] = ()
    ) -> UpsertResult:
        """Replace rows by key and delete `delete_keys` in one MERGE commit (retried on conflict).

        A key both in `rows` and in `delete_keys` ends up deleted; within `rows` the last row of
        a key wins. Only for unpartitioned tables.
        """
        rows = last_row_per_key(rows, spec.key)
        deleting = sorted({int(k) for k in delete_keys})
        kept = rows.filter(pc.invert(pc.is_in(rows[spec.key], pa.array(deleting, pa.int64()))))
        source = _merge_source(kept, spec.key, deleting)
        return self._retried(lambda: self._upsert_once(spec, kept, source))

    def append(
        self, spec: TableSpec, rows: pa.Table, day_of: str, *, dedupe: bool = False
    ) -> AppendResult:
        """Add rows to the partitions of their UTC day of `day_of`, in one commit.

        With `dedupe`, one insert-only MERGE skips rows whose key those partitions already hold.
        """
        offered = rows.num_rows
        if offered == 0:
            return AppendResult(0, 0, (), 0)
        if dedupe:
            rows = last_row_per_key(rows, spec.key)
        days = pc.strftime(rows[day_of].cast(UTC_TIMESTAMP), format="%Y-%m-%d")
        if days.null_count:
            raise ValueError(f"append to {spec.name}: rows without {day_of}")
        dated = rows.append_column(self.partition_key, days)
        partitions = tuple(sorted(set(days.to_pylist())))
        if dedupe:
            appended, written = self._retried(lambda: self._dedupe_once(spec, dated, partitions))
        else:
            appended, written = self._retried(lambda: self._append_once(spec, dated))
        return AppendResult(appended, offered - appended, partitions, written)

    def read(self, table: str, partition: str | None = None) -> pa.Table | None:
        """The current version (partition column last, as a string) or one partition of it."""
        found = self._table(table)
        if found is None or (partition is not None and not self._files(found, partition)):
            return None
        dataset = found.to_pyarrow_dataset()
        rows = dataset.to_table(filter=self._in_partition(found, partition))
        parts = found.metadata().partition_columns
        return rows.select([*(n for n in rows.column_names if n not in parts), *parts])

    def lookup(self, table: str, column: str, values: Sequence[Any]) -> pa.Table | None:
        """The rows whose `column` is one of `values` (files pruned by their statistics)."""
        found = self._table(table)
        if found is None:
            return None
        return found.to_pyarrow_dataset().to_table(filter=pc.field(column).isin(list(values)))

    def schema(self, table: str, partition: str | None = None) -> pa.Schema | None:
        """The current version's schema without the partition column; None if absent."""
        found = self._table(table)
        if found is None or (partition is not None and not self._files(found, partition)):
            return None
        schema = pa.schema(found.schema().to_arrow())
        parts = found.metadata().partition_columns
        return pa.schema([f for f in schema if f.name not in parts])

    def row_count(self, table: str, partition: str | None = None) -> int:
        """Rows of the current version (or one partition), from the log's file statistics."""
        found = self._table(table)
        if found is None:
            return 0
        return sum(rows for _, _, rows in self._files(found, partition))

    def maintain(self, table: str) -> MaintenanceResult:
        """Compact small files, then vacuum files no version within the retention needs."""
        found = self._table(table)
        if found is None:
            return MaintenanceResult(table, 0, 0, 0, 0)
        before = len(self._files(found, None))
        metrics = self._retried(lambda: self._require(table).optimize.compact())
        removed = self._retried(lambda: self._vacuum_once(table))
        after = len(self._files(self._require(table), None))
        added = json.loads(metrics["filesAdded"])["totalSize"]
        return MaintenanceResult(table, before, after, len(removed), int(added))

    def _vacuum_once(self, table: str) -> list[str]:
        """Delete files that no version younger than the retention references."""
        return self._require(table).vacuum(
            retention_hours=self.retention_hours, dry_run=False, enforce_retention_duration=False
        )

    def publish(
        self, spec: TableSpec, partition: str | None, batches: Callable[[], pa.RecordBatchReader]
    ) -> int:
        """Overwrite the table (or partition) with `batches` in one commit; the bytes it added."""
        return self._retried(lambda: self._overwrite_once(spec, partition, batches()))

    def _overwrite_once(
        self, spec: TableSpec, partition: str | None, reader: pa.RecordBatchReader
    ) -> int:
        known = self._paths(spec.name)
        partitioned = partition is not None
        write_deltalake(
            self._uri(spec.name),
            reader,
            mode="overwrite",
            schema_mode="merge",
            partition_by=[self.partition_key] if partitioned else None,
            predicate=f"{self.partition_key} = '{partition}'" if partitioned else None,
            storage_options=self.storage_options,
        )
        return self._added_bytes(spec.name, known)

    def _upsert_once(self, spec: TableSpec, kept: pa.Table, source: pa.Table) -> UpsertResult:
        found = self._table(spec.name)
        if found is None:
            written = self._create(spec.name, kept, partitioned=False)
            return UpsertResult(kept.num_rows, 0, 0, kept.num_rows, written)
        if found.metadata().partition_columns:
            raise ValueError(f"upsert needs an unpartitioned table; {spec.name} is partitioned")
        if source.num_rows == 0:
            return UpsertResult(0, 0, 0, self.row_count(spec.name))
        known = self._paths(spec.name, found)
        on = f"{TARGET}.{spec.key} = {SOURCE}.{spec.key}"
        metrics = (
            found.merge(source, on, source_alias=SOURCE, target_alias=TARGET, merge_schema=True)
            .when_matched_delete(f"{SOURCE}.{DELETES}")
            .when_matched_update_all(except_cols=[DELETES])
            .when_not_matched_insert_all(f"NOT {SOURCE}.{DELETES}", except_cols=[DELETES])
            .execute()
        )
        return UpsertResult(
            inserted=metrics["num_target_rows_inserted"],
            updated=metrics["num_target_rows_updated"],
            deleted=metrics["num_target_rows_deleted"],
            rows=self.row_count(spec.name),
            bytes_written=self._added_bytes(spec.name, known),
        )

    def _append_once(self, spec: TableSpec, rows: pa.Table) -> tuple[int, int]:
        known = self._paths(spec.name)
        write_deltalake(
            self._uri(spec.name),
            rows,
            mode="append",
            schema_mode="merge",
            partition_by=[self.partition_key],
            storage_options=self.storage_options,
        )
        return rows.num_rows, self._added_bytes(spec.name, known)

    def _dedupe_once(
        self, spec: TableSpec, rows: pa.Table, partitions: tuple[str, ...]
    ) -> tuple[int, int]:
        found = self._table(spec.name)
        if found is None:
            return rows.num_rows, self._create(spec.name, rows, partitioned=True)
        known = self._paths(spec.name, found)
        days = ", ".join(f"'{_check_partition(day)}'" for day in partitions)
        part = self.partition_key
        on = (
            f"{TARGET}.{spec.key} = {SOURCE}.{spec.key} AND {TARGET}.{part} = {SOURCE}.{part} "
            f"AND {TARGET}.{part} IN ({days})"
        )
        metrics = (
            found.merge(rows, on, source_alias=SOURCE, target_alias=TARGET, merge_schema=True)
            .when_not_matched_insert_all()
            .execute()
        )
        return metrics["num_target_rows_inserted"], self._added_bytes(spec.name, known)

    def _create(self, table: str, rows: pa.Table, *, partitioned: bool) -> int:
        """Create the table with `rows` as version 0; a concurrent creation raises to retry.

        delta-rs would otherwise commit the rows as version 1 when another writer created the
        table first: an append that duplicates the keys that writer inserted.
        """
        try:
            write_deltalake(
                self._uri(table),
                rows,
                mode="error",
                partition_by=[self.partition_key] if partitioned else None,
                storage_options=self.storage_options,
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except DeltaError:
            if self._table(table) is None:
                raise
            raise CommitFailedError(f"{table} was created concurrently") from None
        return self._added_bytes(table, {})

    def _retried(self, attempt: Callable[[], T]) -> T:
        return retry_conflicts(attempt, sleep=self.sleep, rand=self.rand)

    def _uri(self, table: str) -> str:
        check_segment(table)
        return f"{self.root}/{table}"

    def _table(self, table: str) -> DeltaTable | None:
        """The table at its latest version; None if there is none yet."""
        try:
            return DeltaTable(self._uri(table), storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def _require(self, table: str) -> DeltaTable:
        found = self._table(table)
        if found is None:
            raise FileNotFoundError(f"no Delta table {table} under {self.root}")
        return found

    def _files(self, found: DeltaTable, partition: str | None) -> list[tuple[str, int, int]]:
        """(path, bytes, rows) of the version's data files, of one partition if named."""
        actions = pa.table(found.get_add_actions(flatten=True))
        if partition is not None:
            column = f"partition.{self.partition_key}"
            if column not in actions.column_names:
                return []
            actions = actions.filter(pc.equal(actions[column], _check_partition(partition)))
        columns = [actions[name].to_pylist() for name in ("path", "size_bytes", "num_records")]
        return [(path, size, rows or 0) for path, size, rows in zip(*columns, strict=True)]

    def _paths(self, table: str, found: DeltaTable | None = None) -> dict[str, int]:
        """The current version's data files and their sizes (empty if the table is absent)."""
        found = found if found is not None else self._table(table)
        return {} if found is None else {p: size for p, size, _ in self._files(found, None)}

    def _added_bytes(self, table: str, known: Mapping[str, int]) -> int:
        """Bytes of the current version's files that `known` (an earlier version's) lacked."""
        return sum(size for path, size in self._paths(table).items() if path not in known)

    def _in_partition(self, found: DeltaTable, partition: str | None) -> pc.Expression | None:
        if partition is None or self.partition_key not in found.metadata().partition_columns:
            return None
        return pc.field(self.partition_key) == partition


class DeltaWriter:
    """Stages record batches in local Parquet files; one Delta commit publishes them on exit.

    Memory stays bounded: batches go to disk as they come and are streamed into the commit. A
    batch with new columns starts a new staging file with the wider schema; earlier files are
    widened (null-filled) as they stream out.
    """

    def __init__(
        self, tables: DeltaTables, spec: TableSpec, partition: str | None, schema: pa.Schema
    ) -> None:
        if partition is not None:
            _check_partition(partition)
        self.tables = tables
        self.spec = spec
        self.partition = partition
        self.schema = schema
        self.rows = 0
        self.bytes_written = 0
        self._staging = tempfile.mkdtemp(prefix="portabilling-delta-")
        self._files: list[str] = []
        self._parquet: pq.ParquetWriter | None = None

    def __enter__(self) -> "DeltaWriter":
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
                self.bytes_written = self.tables.publish(self.spec, self.partition, self._reader)
        finally:
            shutil.rmtree(self._staging, ignore_errors=True)

    def write(self, batch: pa.RecordBatch) -> None:
        """Stage one batch; new columns widen the schema first."""
        new_fields = [f for f in batch.schema if f.name not in self.schema.names]
        if new_fields:
            self._close()
            self.schema = widened(self.schema, new_fields)
        if batch.num_rows == 0:
            return
        if self._parquet is None:
            self._files.append(os.path.join(self._staging, f"{len(self._files):05d}.parquet"))
            self._parquet = pq.ParquetWriter(self._files[-1], self.schema)
        self._parquet.write_batch(conform(batch, self.schema))
        self.rows += batch.num_rows

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def _reader(self) -> pa.RecordBatchReader:
        """The staged rows in the final schema (with the partition column), streamed from disk."""
        schema = self.schema
        if self.partition is not None:
            schema = schema.append(pa.field(self.tables.partition_key, pa.string()))
        return pa.RecordBatchReader.from_batches(schema, self._batches(schema))

    def _batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        for path in self._files:
            for batch in pq.ParquetFile(path).iter_batches():
                if self.partition is not None:
                    day = pa.array([self.partition] * batch.num_rows, pa.string())
                    batch = batch.append_column(self.tables.partition_key, day)
                yield conform(batch, schema)


def retry_conflicts(
    attempt: Callable[[], T],
    *,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
    attempts: int = COMMIT_ATTEMPTS,
) -> T:
    """`attempt()`, run again after each conflicting commit (capped backoff, full jitter)."""
    for number in range(attempts - 1):
        try:
            return attempt()
        except CommitFailedError:
            sleep(retry_delay(number, None, base=RETRY_BASE_S, cap=RETRY_CAP_S, rand=rand))
    return attempt()


def _merge_source(kept: pa.Table, key: str, deleting: list[int]) -> pa.Table:
    """`kept` rows plus one row per deleted key, told apart by the `DELETES` column."""
    schema = kept.schema.append(pa.field(DELETES, pa.bool_()))
    upserts = kept.append_column(DELETES, pa.array([False] * kept.num_rows, pa.bool_()))
    deletes = pa.table({key: pa.array(deleting, pa.int64()), DELETES: [True] * len(deleting)})
    gone = [conform(batch, schema) for batch in deletes.to_batches()]
    return pa.concat_tables([upserts, pa.Table.from_batches(gone, schema)])


def _check_partition(partition: str) -> str:
    """A partition value must be a `YYYY-MM-DD` day (it is spliced into commit predicates)."""
    try:
        if date.fromisoformat(partition).isoformat() == partition:
            return partition
    except ValueError:
        pass
    raise ValueError(f"invalid partition: {partition!r} (a YYYY-MM-DD day)")


def retention_from(environ: Mapping[str, str]) -> int:
    """`PORTABILLING_DELTA_RETENTION_HOURS`: hours of history vacuum keeps (default 7 days)."""
    text = environ.get(RETENTION_ENV, "").strip()
    if not text:
        return DEFAULT_RETENTION_HOURS
    if not text.isdigit():
        raise ConfigurationError(f"{RETENTION_ENV} must be a whole number of hours, got {text!r}")
    return int(text)


def s3_options(root: str, environ: Mapping[str, str]) -> dict[str, str]:
    """delta-rs storage options for an S3 root from the AWS environment (the endpoint, region).

    Credentials stay in the environment, where delta-rs reads them itself.
    """
    if not root.startswith(("s3://", "s3a://")):
        return {}
    options = {}
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    return options
