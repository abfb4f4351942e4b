"""Helpers for the table tests: record builders and a one-call publish."""

from datetime import UTC, datetime
from pathlib import Path

from connector.store.arrowio import RecordConverter
from connector.store.storage import TableStore
from connector.store.tables import TableSpec

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


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
