"""Dagster assets, one per entity of the registry, plus the provisioning events.

Each entity's asset asks the resources for a client and a table store, runs one extraction from
`connector.sync.extract` as the entity's refresh mode says, and reports what it did as
materialization metadata and asset checks. The events asset applies pending events with
`connector.sync.refresh`.
What an entity is lives only in its declaration (`connector.entities`).
"""

import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from connector.dagster_defs.failures import failing_for_table
from connector.dagster_defs.naming import DEFAULT_NAMING, Naming
from connector.dagster_defs.resources import EventStoreResource, PortaBillingResource
from connector.entities import DailyPartitions, Entity, FullSnapshot, RecentWindow, Registry
from connector.events.store import DEAD
from connector.store.backend import Tables, UpsertResult
from connector.store.tables import EVENTS, TableSpec
from connector.sync.extract import (
    PREVIEW_ROWS,
    Extraction,
    extract_day,
    extract_snapshot,
    extract_window,
)
from connector.sync.refresh import Applied, apply_batch

GROUP = "portabilling"
# Every asset that calls the server shares one concurrency pool (see docs/scale-out.md).
POOL = "portabilling"
KEYS_CHECK = "keys_unique_and_not_null"
TOTAL_CHECK = "row_count_matches_api_total"
DEAD_LETTERS_CHECK = "no_dead_lettered_events"


def asset_key(table: str) -> dg.AssetKey:
    """`portabilling/<table>`."""
    return DEFAULT_NAMING.asset_key(table)


def _keys_check_spec(spec: TableSpec, naming: Naming) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        KEYS_CHECK,
        asset=naming.asset_key(spec.name),
        blocking=True,
        description=f"Every row has a {spec.key} and no {spec.key} appears twice.",
    )


def _check_specs(spec: TableSpec, naming: Naming) -> list[dg.AssetCheckSpec]:
    key = naming.asset_key(spec.name)
    return [
        _keys_check_spec(spec, naming),
        dg.AssetCheckSpec(
            TOTAL_CHECK,
            asset=key,
            description="Rows written equal the total the API reported for the same scan.",
        ),
    ]


def entity_assets(
    entities: Registry,
    partitions_def: dg.DailyPartitionsDefinition,
    naming: Naming = DEFAULT_NAMING,
) -> list[dg.AssetsDefinition]:
    """One asset per entity, built as its refresh mode says."""
    return [_entity_asset(entity, entities, partitions_def, naming) for entity in entities]


def _entity_asset(
    entity: Entity,
    entities: Registry,
    partitions_def: dg.DailyPartitionsDefinition,
    naming: Naming,
) -> dg.AssetsDefinition:
    match entity.refresh:
        case FullSnapshot():
            return snapshot_asset(entity, naming)
        case DailyPartitions():
            parent = entities[entity.upstream[0]] if entity.upstream else None
            return daily_asset(entity, parent, partitions_def, naming)
        case RecentWindow():
            return window_asset(entity, naming)


def _resource_keys(naming: Naming) -> set[str]:
    return {naming.portabilling, naming.storage, naming.events_store}


def _asset_args(entity: Entity, naming: Naming) -> dict[str, Any]:
    """What every entity's asset declares: key, checks, lineage, described columns, resources."""
    upstream = [*entity.upstream, *([EVENTS.name] if entity.events else [])]
    return {
        "key": naming.asset_key(entity.name),
        "group_name": GROUP,
        "kinds": {"parquet", "portabilling"},
        "pool": POOL,
        "check_specs": _check_specs(entity.table, naming),
        "deps": [naming.asset_key(name) for name in upstream],
        "required_resource_keys": _resource_keys(naming),
        "description": entity.description,
        "metadata": {"dagster/column_schema": column_schema(entity.table)},
    }


def snapshot_asset(entity: Entity, naming: Naming = DEFAULT_NAMING) -> dg.AssetsDefinition:
    """A full-snapshot asset of an entity listed by one list method."""

    @dg.asset(**_asset_args(entity, naming))
    def _snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        store = naming.resource(context, "storage").get_store()
        return _snapshot_run(context, entity, naming, store)

    return _snapshot


def _snapshot_run(
    context: dg.AssetExecutionContext, entity: Entity, naming: Naming, store: Tables
) -> dg.MaterializeResult:
    """Replace the entity's table with a full snapshot; events applied meanwhile apply again."""
    portabilling: PortaBillingResource = naming.resource(context, "portabilling")
    started = time.time()
    with failing_for_table(entity.name), portabilling.get_client() as client:
        extraction = extract_snapshot(client, store, entity, context.log.info)
    if entity.events:
        _requeue_applied_since(context, naming, started, entity.name)
    uri = store.table_uri(entity.name)
    return _result(context, naming, entity.table, extraction, uri, exact_total=False)


class WindowConfig(dg.Config):
    """Run configuration of a recent-window asset."""

    full_snapshot: bool = False  # replace the whole table instead of merging the window


def window_asset(entity: Entity, naming: Naming = DEFAULT_NAMING) -> dg.AssetsDefinition:
    """Re-read the entity's recent window and merge it by key; a full snapshot on request.

    The first run, with no table yet, is a full snapshot too.
    """

    @dg.asset(**_asset_args(entity, naming))
    def _window(context: dg.AssetExecutionContext, config: WindowConfig) -> dg.MaterializeResult:
        store = naming.resource(context, "storage").get_store()
        if config.full_snapshot or store.schema(entity.name) is None:
            return _snapshot_run(context, entity, naming, store)
        portabilling: PortaBillingResource = naming.resource(context, "portabilling")
        started = time.time()
        with failing_for_table(entity.name), portabilling.get_client() as client:
            merge = extract_window(client, store, entity, _utc_today(), context.log.info)
        if entity.events:
            _requeue_applied_since(context, naming, started, entity.name)
        uri = store.table_uri(entity.name)
        window = {"window_rows": merge.listed.rows, **_change_metadata(merge.change)}
        return _result(
            context,
            naming,
            entity.table,
            merge.listed,
            uri,
            exact_total=False,
            extra={"dagster/row_count": merge.change.rows, **window},
        )

    return _window


def _requeue_applied_since(
    context: dg.AssetExecutionContext, naming: Naming, since: float, kind: str
) -> None:
    """Events applied while the snapshot scanned may have been overwritten: apply them again."""
    events_store: EventStoreResource = naming.resource(context, "events_store")
    with events_store.get_store() as events_db:
        requeued = events_db.requeue_done_since(since, kind)
    if requeued:
        context.log.info(f"{requeued} events applied during the scan will be applied again")


def daily_asset(
    entity: Entity,
    parent: Entity | None,
    partitions_def: dg.DailyPartitionsDefinition,
    naming: Naming = DEFAULT_NAMING,
) -> dg.AssetsDefinition:
    """Daily partitions: one partition holds the rows of one UTC day (listed per parent row)."""

    @dg.asset(partitions_def=partitions_def, **_asset_args(entity, naming))
    def _daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        portabilling: PortaBillingResource = naming.resource(context, "portabilling")
        store = naming.resource(context, "storage").get_store()
        with failing_for_table(entity.name), portabilling.get_client() as client:
            extraction = extract_day(client, store, entity, parent, day, context.log.info)
        uri = store.table_uri(entity.name, day.isoformat())
        return _result(context, naming, entity.table, extraction, uri, exact_total=True)

    return _daily


def events_asset(entities: Registry, naming: Naming = DEFAULT_NAMING) -> dg.AssetsDefinition:
    """The events asset: materializing it applies every pending event to the registry's tables."""

    @dg.asset(
        key=naming.asset_key(EVENTS.name),
        group_name=GROUP,
        kinds={"parquet", "portabilling"},
        pool=POOL,
        description=(
            "Provisioning events received by the webhook, appended by UTC day of receipt "
            "(`date=YYYY-MM-DD`). Materializing it applies every pending event: the named "
            "entities are re-read and updated in place, and the events' rows are appended "
            "(the keys check covers the rows a run appends). An event that cannot be applied "
            "is dead-lettered (`portabilling events dead-letter`)."
        ),
        metadata={"dagster/column_schema": column_schema(EVENTS)},
        check_specs=[_keys_check_spec(EVENTS, naming)],
        required_resource_keys=_resource_keys(naming),
    )
    def events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        portabilling: PortaBillingResource = naming.resource(context, "portabilling")
        events_store: EventStoreResource = naming.resource(context, "events_store")
        tables = naming.resource(context, "storage").get_store()
        with events_store.get_store() as store:
            batch = store.claim_pending(context.run.run_id)
            try:
                with portabilling.get_client() as client:
                    applied = apply_batch(
                        client, tables, store, batch, entities, portabilling.max_concurrency
                    )
            except BaseException:
                store.release(context.run.run_id)
                raise
            store.complete(context.run.run_id)
            dead_total = store.counts()[DEAD]
        _log_dead_letters(context, applied.dead)
        _log_tables_changed(context, naming, applied)
        appended = applied.appended
        return dg.MaterializeResult(
            metadata={
                "dagster/column_schema": column_schema(EVENTS, appended.schema),
                "dagster/uri": tables.table_uri(EVENTS.name),
                "preview": dg.MetadataValue.md(markdown_preview(_newest(appended))),
                "events_appended": appended.num_rows,
                "events_applied": applied.events,
                "events_dead_lettered": len(applied.dead),
                "dead_lettered_total": dead_total,
                "entities_reread": len(batch.entities),
                "duration_s": round(applied.seconds, 3),
            },
            check_results=[_table_keys_check(naming.asset_key(EVENTS.name), EVENTS, appended)],
        )

    return events


def _log_tables_changed(
    context: dg.AssetExecutionContext, naming: Naming, applied: Applied
) -> None:
    """A materialization of each entity table the events changed in place."""
    for name, change in applied.tables.items():
        context.log_event(
            dg.AssetMaterialization(
                asset_key=naming.asset_key(name),
                description=f"{applied.events} provisioning events applied in place",
                metadata={"dagster/row_count": change.rows, **_change_metadata(change)},
            )
        )


def dead_letters_check(naming: Naming = DEFAULT_NAMING) -> dg.AssetChecksDefinition:
    """Warns while dead-lettered events wait in the instance's event store."""

    @dg.asset_check(
        asset=naming.asset_key(EVENTS.name),
        name=DEAD_LETTERS_CHECK,
        description=(
            "Warns while dead-lettered events wait in the event store: list and requeue them "
            "with `portabilling events dead-letter [--requeue]`."
        ),
        required_resource_keys={naming.events_store},
    )
    def _dead_letters(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        events_store: EventStoreResource = naming.resource(context, "events_store")
        with events_store.get_store() as store:
            dead = store.counts()[DEAD]
        return dg.AssetCheckResult(
            passed=dead == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"dead_lettered": dead},
        )

    return _dead_letters


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _log_dead_letters(context: dg.AssetExecutionContext, dead: dict[int, str]) -> None:
    """A warning naming the first few events set aside and why (errors hold no secrets)."""
    if dead:
        shown = "; ".join(f"{i_event}: {why}" for i_event, why in list(dead.items())[:5])
        context.log.warning(
            f"{len(dead)} events dead-lettered (portabilling events dead-letter): {shown}"
        )


def _change_metadata(change: UpsertResult) -> dict[str, int]:
    return {
        "inserted": change.inserted,
        "updated": change.updated,
        "deleted": change.deleted,
        "bytes_written": change.bytes_written,
    }


def _result(
    context: dg.AssetExecutionContext,
    naming: Naming,
    spec: TableSpec,
    extraction: Extraction,
    uri: str,
    *,
    exact_total: bool,
    extra: Mapping[str, Any] | None = None,
) -> dg.MaterializeResult:
    if extraction.added_fields:
        context.log.warning(
            f"{extraction.table}: the API sent new fields, the schema widened with "
            f"{extraction.added_fields}"
        )
    spec_key = naming.asset_key(extraction.table)
    return dg.MaterializeResult(
        metadata={**_metadata(spec, extraction, uri), **(extra or {})},
        check_results=[
            _keys_check(spec_key, extraction),
            _total_check(spec_key, extraction, exact=exact_total),
        ],
    )


def _metadata(spec: TableSpec, extraction: Extraction, uri: str) -> dict[str, Any]:
    scan = {f"drift/{k}": v for k, v in extraction.scan.as_dict().items() if v is not None}
    client = {f"api/{k}": v for k, v in extraction.client.items()}
    return {
        "dagster/row_count": extraction.rows,
        "dagster/column_schema": column_schema(spec, extraction.schema),
        "dagster/uri": uri,
        "preview": dg.MetadataValue.md(markdown_preview(extraction.preview)),
        "duration_s": round(extraction.seconds, 3),
        "records_per_s": round(extraction.records_per_s, 1),
        "bytes_written": extraction.bytes_written,
        "added_fields": extraction.added_fields,
        **client,
        **scan,
    }


def _newest(table: pa.Table) -> list[dict[str, Any]]:
    """The last rows of a table, newest last."""
    return table.slice(max(0, table.num_rows - PREVIEW_ROWS)).to_pylist()


def _table_keys_check(key: dg.AssetKey, spec: TableSpec, table: pa.Table) -> dg.AssetCheckResult:
    """The keys check over the rows a run wrote."""
    keys = table[spec.key]
    distinct = pc.count_distinct(keys).as_py()
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=KEYS_CHECK,
        passed=keys.null_count == 0 and distinct == table.num_rows,
        metadata={"rows": table.num_rows, "distinct_keys": distinct, "null_keys": keys.null_count},
    )


def _keys_check(key: dg.AssetKey, extraction: Extraction) -> dg.AssetCheckResult:
    keys = extraction.key_stats
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=KEYS_CHECK,
        passed=keys.nulls == 0 and keys.distinct == extraction.rows,
        metadata={"rows": extraction.rows, "distinct_keys": keys.distinct, "null_keys": keys.nulls},
    )


def _total_check(key: dg.AssetKey, extraction: Extraction, *, exact: bool) -> dg.AssetCheckResult:
    """Snapshots of live lists may drift during the scan (a warning); xDR days must match."""
    scan = extraction.scan
    total = scan.total_after if scan.total_after is not None else scan.total_before
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=TOTAL_CHECK,
        passed=total == extraction.rows,
        severity=dg.AssetCheckSeverity.ERROR if exact else dg.AssetCheckSeverity.WARN,
        metadata={
            "rows": extraction.rows,
            "api_total": total if total is not None else -1,
            "total_before": scan.total_before if scan.total_before is not None else -1,
        },
    )


def column_schema(spec: TableSpec, schema: pa.Schema | None = None) -> dg.TableSchema:
    """Dagster's column schema: each column's type, and its description where declared.

    `schema` (the spec's by default) may be wider: fields the API added have no description.
    """
    described = spec.descriptions
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=f.name, type=str(f.type), description=described.get(f.name))
            for f in (spec.schema if schema is None else schema)
        ]
    )


def markdown_preview(rows: list[dict[str, object]]) -> str:
    """A few rows as a Markdown table (values already typed and free of secrets)."""
    if not rows:
        return "(no rows)"
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        cells = ("" if row[n] is None else str(row[n]).replace("|", "\\|") for n in names)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
