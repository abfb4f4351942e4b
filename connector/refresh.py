"""Apply provisioning events: re-read the entities they name and update the tables in place.

ESPF delivers at least once, unordered and sometimes coalesced, so events are never applied as
deltas: each named account or customer is re-read through the API (`*_info`) and its row replaced;
one the API no longer has leaves the table. No Dagster here.
"""

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connector.arrowio import RecordConverter
from connector.client import PortaBillingClient
from connector.events.store import EventStore, PendingBatch
from connector.events.types import EntityKind, StoredEvent
from connector.storage import TableStore, UpsertResult
from connector.tables import ACCOUNTS, CUSTOMERS, EVENTS, TableSpec, event_record

SPEC_OF_KIND: dict[EntityKind, TableSpec] = {
    EntityKind.ACCOUNT: ACCOUNTS,
    EntityKind.CUSTOMER: CUSTOMERS,
}
KIND_OF_TABLE: dict[str, EntityKind] = {spec.name: kind for kind, spec in SPEC_OF_KIND.items()}


@dataclass
class Reread:
    """Current records of some entities, and the ids the API no longer has."""

    records: list[dict[str, Any]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


@dataclass
class Applied:
    """What one batch of events changed."""

    events: int
    tables: dict[str, UpsertResult]
    seconds: float


def reread(
    client: PortaBillingClient, spec: TableSpec, ids: Sequence[int], concurrency: int
) -> Reread:
    """Fetch each entity's current record with its `*_info` method, `concurrency` at a time."""
    if spec.service is None or spec.info_method is None or spec.info_key is None:
        raise ValueError(f"table {spec.name} has no info method to re-read entities with")
    service, method, info_key = spec.service, spec.info_method, spec.info_key

    def fetch(i: int) -> dict[str, Any] | None:
        return client.call(service, method, {spec.key: i}).get(info_key)

    result = Reread()
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        for i, record in zip(ids, pool.map(fetch, ids), strict=True):
            if record:
                result.records.append(record)
            else:
                result.missing.append(i)
    return result


def apply_batch(
    client: PortaBillingClient,
    tables: TableStore,
    events: EventStore,
    batch: PendingBatch,
    concurrency: int,
    clock: Callable[[], float] = time.monotonic,
) -> Applied:
    """Re-read the batch's entities, upsert their tables, append the events: all published."""
    started = clock()
    extracted_at = datetime.now(UTC)
    changed: dict[str, UpsertResult] = {}
    for kind, spec in SPEC_OF_KIND.items():
        ids = batch.ids(kind)
        if ids:
            current = reread(client, spec, ids, concurrency)
            rows = _rows(spec, tables, current.records, extracted_at)
            changed[spec.name] = tables.upsert(spec, rows, delete_keys=current.missing)
    stored = events.events(batch.i_events)
    changed[EVENTS.name] = tables.upsert(EVENTS, _event_rows(tables, stored, extracted_at))
    return Applied(events=len(stored), tables=changed, seconds=clock() - started)


def _rows(
    spec: TableSpec, tables: TableStore, records: list[dict[str, Any]], extracted_at: datetime
) -> pa.Table:
    converter = RecordConverter(spec, base_schema=tables.schema(spec.name))
    return pa.Table.from_batches([converter.to_batch(records, extracted_at)])


def _event_rows(tables: TableStore, stored: list[StoredEvent], extracted_at: datetime) -> pa.Table:
    records = [event_record(e.event_type, e.variables, e.received_at) for e in stored]
    return _rows(EVENTS, tables, records, extracted_at)
