"""Apply provisioning events: re-read the entities they name and update the tables in place.

ESPF delivers at least once, unordered and sometimes coalesced, so events are never applied as
deltas: each named entity is re-read through the API as its declaration says (`Entity.reread`)
and its row replaced; one the API no longer has leaves the table. No Dagster here.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow as pa

from connector.api.client import PortaBillingClient
from connector.api.errors import FaultError, redact
from connector.entities.declaration import Entity, LookupRead, Registry
from connector.events.store import MAYBE, YES, EventStore, PendingBatch
from connector.events.types import EntityRef, StoredEvent
from connector.store.arrowio import ARROW_ERRORS, ConversionError, RecordConverter
from connector.store.backend import Tables, UpsertResult
from connector.store.tables import EVENTS, TableSpec, event_record

# What an event names an entity by: its integer key, or a text field such as a DID's number.
EntityId = int | str
Key = TypeVar("Key", bound=EntityId)
# A value of one record or event row that the table's types cannot hold.
CONVERSION_ERRORS = (ConversionError, *ARROW_ERRORS)


@dataclass
class Reread:
    """Current records of some entities by id, the ids the API no longer has, and its faults.

    An id is what the events name: the key, or the field a `LookupRead` finds the entity by.
    """

    records: dict[EntityId, dict[str, Any]] = field(default_factory=dict)
    missing: list[EntityId] = field(default_factory=list)
    faults: dict[EntityId, FaultError] = field(default_factory=dict)


@dataclass
class Applied:
    """What one batch of events changed, and which events it set aside as dead (with why).

    `tables`: the entity tables upserted; `appended`: the event rows added to the events table.
    """

    events: int
    tables: dict[str, UpsertResult]
    appended: pa.Table
    seconds: float
    dead: dict[int, str] = field(default_factory=dict)


def reread(
    client: PortaBillingClient, entity: Entity, ids: Sequence[EntityId], concurrency: int
) -> Reread:
    """Fetch each entity's current record as its declaration says, `concurrency` at a time.

    A fault the server answers for one entity is kept in `faults`; any other error (transport,
    session, credentials) is raised.
    """
    how = entity.reread
    if how is None:
        raise ValueError(f"entity {entity.name} has no way to be re-read")

    def fetch(i: EntityId) -> dict[str, Any] | FaultError | None:
        try:
            return how.fetch(client.call, i)
        except FaultError as fault:
            return fault

    result = Reread()
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        for i, record in zip(ids, pool.map(fetch, ids), strict=True):
            if isinstance(record, FaultError):
                result.faults[i] = record
            elif record:
                result.records[i] = record
            else:
                result.missing.append(i)
    return result


def apply_batch(
    client: PortaBillingClient,
    tables: Tables,
    events: EventStore,
    batch: PendingBatch,
    entities: Registry,
    concurrency: int,
    clock: Callable[[], float] = time.monotonic,
) -> Applied:
    """Re-read the batch's entities, upsert their tables, append the events: all published.

    Quarantine, never block: the events of an entity the server faults on, or whose record
    cannot be converted, and an event whose own row cannot be, are dead-lettered with the error;
    the rest is applied. A batch whose every re-read faulted (two or more) fails instead: that
    fault is the server's, not the entities'.
    """
    started = clock()
    extracted_at = datetime.now(UTC)
    changed, failed = _apply_entities(client, tables, batch, entities, concurrency, extracted_at)
    stored = events.events(batch.i_events)
    dead = {e.i_event: failed[ref] for e in stored for ref in e.entities if ref in failed}
    fresh = [e for e in stored if e.i_event not in dead and e.in_table != YES]
    records = {e.i_event: _event_record(e) for e in fresh}
    rows, unconvertible = _convert(events_spec(entities), None, records, extracted_at)
    dead.update(unconvertible)
    _append_events(tables, events, entities, rows, fresh)
    _dead_letter(events, dead)
    return Applied(len(stored) - len(dead), changed, rows, clock() - started, dead)


def _append_events(
    tables: Tables,
    events: EventStore,
    entities: Registry,
    rows: pa.Table,
    fresh: Sequence[StoredEvent],
) -> None:
    """Append the events' rows exactly once, across crashes.

    The store marks them `maybe` before the files are published and `yes` after, so a retry
    of an append that may have been published skips the rows already there (`dedupe`).
    """
    i_events = rows[EVENTS.key].to_pylist()
    if not i_events:
        return
    events.mark_in_table(i_events, MAYBE)
    retried = any(e.in_table == MAYBE for e in fresh)
    tables.append(events_spec(entities), rows, "received_at", dedupe=retried)
    events.mark_in_table(i_events, YES)


def events_spec(entities: Registry) -> TableSpec:
    """The events table, its variables also free of every field an entity's table keeps out."""
    kept_out = frozenset().union(*(entity.table.secret_fields for entity in entities))
    return replace(EVENTS, secret_fields=EVENTS.secret_fields | kept_out)


def _apply_entities(
    client: PortaBillingClient,
    tables: Tables,
    batch: PendingBatch,
    entities: Registry,
    concurrency: int,
    extracted_at: datetime,
) -> tuple[dict[str, UpsertResult], dict[EntityRef, str]]:
    """Re-read and upsert each kind's entities: the tables changed, and why each failure failed.

    A kind no entity of the registry has (an entity since removed) fails its events.
    """
    kinds = sorted({ref.kind for ref in batch.entities})
    rereads = {
        kind: reread(client, entities[kind], batch.ids(kind), concurrency)
        for kind in kinds
        if kind in entities
    }
    _raise_if_every_reread_faulted(rereads, len(batch.entities))
    changed: dict[str, UpsertResult] = {}
    failed = {
        ref: f"no entity {ref.kind} to re-read"
        for ref in batch.entities
        if ref.kind not in entities
    }
    for kind, current in rereads.items():
        spec = entities[kind].table
        base = tables.schema(spec.name)
        rows, unconvertible = _convert(spec, base, current.records, extracted_at)
        gone = _keys_of(tables, entities[kind], current.missing)
        changed[spec.name] = tables.upsert(spec, rows, delete_keys=gone)
        faults = {i: _reason("re-read", fault) for i, fault in current.faults.items()}
        failed.update({EntityRef(kind, i): why for i, why in (faults | unconvertible).items()})
    return changed, failed


def _keys_of(tables: Tables, entity: Entity, ids: Sequence[EntityId]) -> list[int]:
    """The table keys of entities named by `ids`: the ids themselves, unless found by a field."""
    how = entity.reread
    if not isinstance(how, LookupRead):
        return [int(i) for i in ids]
    found = tables.lookup(entity.name, how.field, ids) if ids else None
    return [] if found is None else [int(key) for key in found[entity.table.key].to_pylist()]


def _raise_if_every_reread_faulted(rereads: Mapping[str, Reread], entities: int) -> None:
    faults = [fault for current in rereads.values() for fault in current.faults.values()]
    if entities > 1 and len(faults) == entities:
        raise faults[0]


def _convert(
    spec: TableSpec,
    base: pa.Schema | None,
    records: Mapping[Key, dict[str, Any]],
    extracted_at: datetime,
) -> tuple[pa.Table, dict[Key, str]]:
    """The records as typed rows (of `base` widened as needed), and each failure's error.

    The whole page converts at once; only when it fails is each record tried alone.
    """
    try:
        return _rows(spec, base, list(records.values()), extracted_at), {}
    except CONVERSION_ERRORS:
        pass
    failed: dict[Key, str] = {}
    for key, record in records.items():
        try:
            _rows(spec, base, [record], extracted_at)
        except CONVERSION_ERRORS as exc:
            failed[key] = _reason(f"{spec.name} row", exc)
    good = [record for key, record in records.items() if key not in failed]
    return _rows(spec, base, good, extracted_at), failed


def _rows(
    spec: TableSpec, base: pa.Schema | None, records: list[dict[str, Any]], extracted_at: datetime
) -> pa.Table:
    converter = RecordConverter(spec, base_schema=base)
    return pa.Table.from_batches([converter.to_batch(records, extracted_at)])


def _event_record(event: StoredEvent) -> dict[str, Any]:
    return event_record(event.event_type, event.variables, event.received_at)


def _reason(what: str, exc: Exception) -> str:
    """A short, redacted, one-line account of why: stored with the dead-lettered events."""
    return redact(f"{what}: {type(exc).__name__}: {exc}")


def _dead_letter(events: EventStore, dead: Mapping[int, str]) -> None:
    """Set the events aside, one store call per distinct error."""
    by_reason: dict[str, list[int]] = {}
    for i_event, reason in dead.items():
        by_reason.setdefault(reason, []).append(i_event)
    for reason, i_events in by_reason.items():
        events.dead_letter(i_events, reason)
