"""Helpers for the table tests: record builders and a one-call publish."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connector.entities import ACCOUNTS
from connector.store.arrowio import RecordConverter, conform
from connector.store.storage import TableStore
from connector.store.tables import TableSpec

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
SPEC = ACCOUNTS.table


def account(i: int, **fields: object) -> dict[str, object]:
    """A small account record like the API sends, secrets included."""
    return {"i_account": i, "balance": 0.1 * i, "blocked": "N", "password": f"pw-{i}", **fields}


def publish(store: TableStore, spec: TableSpec, pages: list[list[dict]], partition=None):
    """Write `pages` as one run; returns the writer (rows, bytes_written) and the converter."""
    with store.writer(spec, partition) as writer:
        converter = RecordConverter(spec, base_schema=writer.schema)
        for page in pages:
            writer.write(converter.to_batch(page, NOW))
    return writer, converter


def table_files(root: Path, table: str) -> list[str]:
    """Every file under a table folder, relative to it."""
    folder = root / table
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def accounts(keys: list[int] | np.ndarray, balance: str = "1.5") -> pa.Table:
    """Account rows of the table's schema for `keys`, built column-wise (fast for 200k rows)."""
    keys = pa.array(keys, pa.int64())
    columns = {
        "i_account": keys,
        "id": pc.cast(keys, pa.string()),
        "balance": pa.repeat(pa.scalar(balance).cast(pa.decimal128(24, 5)), len(keys)),
        "_extracted_at": pa.repeat(pa.scalar(NOW, pa.timestamp("us", tz="UTC")), len(keys)),
    }
    batch = pa.RecordBatch.from_pydict(columns)
    return pa.Table.from_batches([conform(batch, SPEC.schema)])


def snapshot(store: TableStore, rows: pa.Table) -> int:
    """Publish `rows` as the accounts table; the bytes published."""
    with store.writer(SPEC) as writer:
        for batch in rows.to_batches(max_chunksize=5000):
            writer.write(batch)
    return writer.bytes_written
