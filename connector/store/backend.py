"""What the connector asks of a table format: the plain Parquet layout or Delta Lake.

`open_tables` gives the `Tables` of a root for the configured format; everything above
`connector.store` (extraction, event refresh, Dagster assets) talks to this protocol only.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa

from connector.store.tables import TableSpec

PARQUET = "parquet"
DELTA = "delta"
TABLE_FORMATS = (PARQUET, DELTA)


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert changed, the table's size after it, and the bytes it wrote."""

    inserted: int
    updated: int
    deleted: int
    rows: int
    bytes_written: int = 0


@dataclass(frozen=True)
class AppendResult:
    """What an append added (rows already present were skipped) and where."""

    appended: int
    skipped: int
    partitions: tuple[str, ...]
    bytes_written: int


@dataclass(frozen=True)
class MaintenanceResult:
    """What compacting (and for Delta, vacuuming) one table did."""

    table: str
    files_before: int
    files_after: int
    files_removed: int
    bytes_written: int


class Writer(Protocol):
    """Streams record batches into a table or partition; publishes on a clean `with` exit."""

    schema: pa.Schema
    rows: int
    bytes_written: int

    def write(self, batch: pa.RecordBatch) -> None: ...

    def __enter__(self) -> "Writer": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class Tables(Protocol):
    """The tables under one root, in one format."""

    format: str
    partition_key: str

    def table_uri(self, table: str, partition: str | None = None) -> str:
        """Where a table (or one partition of it) lives, as readers should address it."""
        ...

    def writer(self, spec: TableSpec, partition: str | None = None) -> Writer:
        """A writer that replaces the table (or one partition) as one publish."""
        ...

    def upsert(
        self, spec: TableSpec, rows: pa.Table, delete_keys: Iterable[int] = ()
    ) -> UpsertResult:
        """Replace rows by key and drop deleted keys, touching a bounded slice of the table."""
        ...

    def append(
        self, spec: TableSpec, rows: pa.Table, day_of: str, *, dedupe: bool = False
    ) -> AppendResult:
        """Add rows to partitions by the UTC day of column `day_of`.

        With `dedupe`, rows whose key the target partitions already hold are skipped (the
        retry of an append that may have been published before a crash).
        """
        ...

    def read(self, table: str, partition: str | None = None) -> pa.Table | None:
        """The whole table (partition column included) or one partition; None if absent."""
        ...

    def lookup(self, table: str, column: str, values: Sequence[Any]) -> pa.Table | None:
        """The rows whose `column` is one of `values`; None if the table is absent."""
        ...

    def schema(self, table: str, partition: str | None = None) -> pa.Schema | None:
        """The published schema (without a partition column), None if absent."""
        ...

    def row_count(self, table: str, partition: str | None = None) -> int:
        """Rows published in a table or partition."""
        ...

    def maintain(self, table: str) -> MaintenanceResult:
        """Compact small files (and for Delta, vacuum files no version needs)."""
        ...


def open_tables(root: str, table_format: str = PARQUET) -> Tables:
    """The tables under `root` (a local path or fsspec URL) in `table_format`."""
    if table_format == PARQUET:
        from connector.store.storage import TableStore

        return TableStore(root)
    if table_format == DELTA:
        from connector.store.delta import DeltaTables

        return DeltaTables(root)
    raise ValueError(
        f"PORTABILLING_TABLE_FORMAT: {table_format!r} is not one of {', '.join(TABLE_FORMATS)}"
    )
