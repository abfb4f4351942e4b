"""Helpers for the Delta tests: typed rows of the built-in specs, written in one call."""

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connector.entities import ACCOUNTS
from connector.store.arrowio import RecordConverter
from connector.store.backend import Tables
from connector.store.tables import TableSpec

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def account(i: int, **fields: Any) -> dict[str, Any]:
    """A small account record like the API sends."""
    return {"i_account": i, "balance": 0.1 * i, "blocked": "N", **fields}


def rows(spec: TableSpec, records: list[dict[str, Any]], base: pa.Schema | None = None) -> pa.Table:
    """`records` typed as the spec's table (widened by `base` and by unknown fields)."""
    batch = RecordConverter(spec, base_schema=base).to_batch(records, NOW)
    return pa.Table.from_batches([batch])


def accounts(*keys: int, **fields: Any) -> pa.Table:
    return rows(ACCOUNTS.table, [account(k, **fields) for k in keys])


def event(i: int, received_at: str) -> dict[str, Any]:
    """An `EVENTS` record received at `received_at` (UTC)."""
    return {"i_event": i, "event_type": "Account/Updated", "received_at": received_at}


def publish(tables: Tables, spec: TableSpec, pages: list[list[dict]], partition=None):
    """Write `pages` as one run through the writer; returns it."""
    with tables.writer(spec, partition) as writer:
        converter = RecordConverter(spec, base_schema=writer.schema)
        for page in pages:
            writer.write(converter.to_batch(page, NOW))
    return writer


def column(tables: Tables, table: str, name: str, partition: str | None = None) -> list[Any]:
    """One column of the table's current version, sorted."""
    read = tables.read(table, partition)
    assert read is not None
    return sorted(read[name].to_pylist())


def by_key(tables: Tables, table: str, key: str, name: str) -> dict[Any, Any]:
    """Column `name` of the table's current version, by `key`."""
    read = tables.read(table)
    assert read is not None
    return dict(zip(read[key].to_pylist(), read[name].to_pylist(), strict=True))
