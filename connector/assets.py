"""Dagster assets: snapshots of customers and accounts, daily xDR partitions, provisioning events.

Each asset asks the resources for a client and a table store, runs one extraction from
`connector.extract` (or applies pending events with `connector.refresh`), and reports what it did
as materialization metadata and asset checks. Adding an entity is a row in `connector.tables`
plus one `snapshot_asset(...)` line here.
"""

import time
from datetime import date
from typing import Any

import dagster as dg
import pyarrow as pa

from connector.events.store import DEAD
from connector.extract import Extraction, extract_snapshot, extract_xdr_day
from connector.refresh import KIND_OF_TABLE, apply_batch
from connector.resources import EventStoreResource, ParquetStorageResource, PortaBillingResource
from connector.store.storage import UpsertResult
from connector.tables import ACCOUNTS, CUSTOMERS, EVENTS, XDRS, TableSpec

GROUP = "portabilling"
# Every asset that calls the server shares one concurrency pool (see README: scale-out).
POOL = "portabilling"
KEYS_CHECK = "keys_unique_and_not_null"
TOTAL_CHECK = "row_count_matches_api_total"
DEAD_LETTERS_CHECK = "no_dead_lettered_events"


def asset_key(table: str) -> dg.AssetKey:
    """`portabilling/<table>`."""
    return dg.AssetKey(["portabilling", table])


def _check_specs(spec: TableSpec) -> list[dg.AssetCheckSpec]:
    key = asset_key(spec.name)
    return [
        dg.AssetCheckSpec(
            KEYS_CHECK,
            asset=key,
            blocking=True,
            description=f"Every row has a {spec.key} and no {spec.key} appears twice.",
        ),
        dg.AssetCheckSpec(
            TOTAL_CHECK,
            asset=key,
            description="Rows written equal the total the API reported for the same scan.",
        ),
    ]


def snapshot_asset(spec: TableSpec, description: str) -> dg.AssetsDefinition:
    """A full-snapshot asset of a table with a list method."""

    @dg.asset(
        key=asset_key(spec.name),
        group_name=GROUP,
        kinds={"parquet", "portabilling"},
        pool=POOL,
        check_specs=_check_specs(spec),
        description=description,
    )
    def _snapshot(
        context: dg.AssetExecutionContext,
        portabilling: PortaBillingResource,
        storage: ParquetStorageResource,
        events_store: EventStoreResource,
    ) -> dg.MaterializeResult:
        store = storage.get_store()
        started = time.time()
        with portabilling.get_client() as client:
            extraction = extract_snapshot(client, store, spec, context.log.info)
        with events_store.get_store() as events_db:
            requeued = events_db.requeue_done_since(started, KIND_OF_TABLE[spec.name])
        if requeued:
            context.log.info(f"{requeued} events applied during the scan will be applied again")
        return _result(context, extraction, store.table_uri(spec.name), exact_total=False)

    return _snapshot


def xdrs_asset(partitions_def: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    """Daily xDR partitions: one partition holds the xDRs billed in that UTC day."""

    @dg.asset(
        key=asset_key(XDRS.name),
        group_name=GROUP,
        kinds={"parquet", "portabilling"},
        pool=POOL,
        partitions_def=partitions_def,
        check_specs=_check_specs(XDRS),
        description="Usage records (xDRs) by UTC day of billing time, fetched per customer.",
    )
    def _xdrs(
        context: dg.AssetExecutionContext,
        portabilling: PortaBillingResource,
        storage: ParquetStorageResource,
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        store = storage.get_store()
        with portabilling.get_client() as client:
            extraction = extract_xdr_day(client, store, day, context.log.info)
        uri = store.table_uri(XDRS.name, day.isoformat())
        return _result(context, extraction, uri, exact_total=True)

    return _xdrs


@dg.asset(
    key=asset_key(EVENTS.name),
    group_name=GROUP,
    kinds={"parquet", "portabilling"},
    pool=POOL,
    description=(
        "Provisioning events received by the webhook. Materializing it applies every pending "
        "event: the named accounts and customers are re-read and updated in place. An event "
        "that cannot be applied is dead-lettered (`portabilling events dead-letter`)."
    ),
)
def events(
    context: dg.AssetExecutionContext,
    portabilling: PortaBillingResource,
    storage: ParquetStorageResource,
    events_store: EventStoreResource,
) -> dg.MaterializeResult:
    tables = storage.get_store()
    with events_store.get_store() as store:
        batch = store.claim_pending(context.run.run_id)
        try:
            with portabilling.get_client() as client:
                applied = apply_batch(client, tables, store, batch, portabilling.max_concurrency)
        except BaseException:
            store.release(context.run.run_id)
            raise
        store.complete(context.run.run_id)
        dead_total = store.counts()[DEAD]
    _log_dead_letters(context, applied.dead)
    for name, change in applied.tables.items():
        if name != EVENTS.name:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=asset_key(name),
                    description=f"{applied.events} provisioning events applied in place",
                    metadata={"dagster/row_count": change.rows, **_change_metadata(change)},
                )
            )
    change = applied.tables[EVENTS.name]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": change.rows,
            "dagster/uri": tables.table_uri(EVENTS.name),
            "events_applied": applied.events,
            "events_dead_lettered": len(applied.dead),
            "dead_lettered_total": dead_total,
            "entities_reread": len(batch.entities),
            "duration_s": round(applied.seconds, 3),
        }
    )


@dg.asset_check(
    asset=events,
    name=DEAD_LETTERS_CHECK,
    description=(
        "Warns while dead-lettered events wait in the event store: list and requeue them with "
        "`portabilling events dead-letter [--requeue]`."
    ),
)
def dead_letters_check(events_store: EventStoreResource) -> dg.AssetCheckResult:
    with events_store.get_store() as store:
        dead = store.counts()[DEAD]
    return dg.AssetCheckResult(
        passed=dead == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"dead_lettered": dead},
    )


customers = snapshot_asset(CUSTOMERS, "All PortaBilling customers, a full snapshot.")
accounts = snapshot_asset(ACCOUNTS, "All PortaBilling accounts, a full drift-repaired snapshot.")


def _log_dead_letters(context: dg.AssetExecutionContext, dead: dict[int, str]) -> None:
    """A warning naming the first few events set aside and why (errors hold no secrets)."""
    if dead:
        shown = "; ".join(f"{i_event}: {why}" for i_event, why in list(dead.items())[:5])
        context.log.warning(
            f"{len(dead)} events dead-lettered (portabilling events dead-letter): {shown}"
        )


def _change_metadata(change: UpsertResult) -> dict[str, int]:
    return {"inserted": change.inserted, "updated": change.updated, "deleted": change.deleted}


def _result(
    context: dg.AssetExecutionContext, extraction: Extraction, uri: str, *, exact_total: bool
) -> dg.MaterializeResult:
    if extraction.added_fields:
        context.log.warning(
            f"{extraction.table}: the API sent new fields, the schema widened with "
            f"{extraction.added_fields}"
        )
    spec_key = asset_key(extraction.table)
    return dg.MaterializeResult(
        metadata=_metadata(extraction, uri),
        check_results=[
            _keys_check(spec_key, extraction),
            _total_check(spec_key, extraction, exact=exact_total),
        ],
    )


def _metadata(extraction: Extraction, uri: str) -> dict[str, Any]:
    scan = {f"drift/{k}": v for k, v in extraction.scan.as_dict().items() if v is not None}
    client = {f"api/{k}": v for k, v in extraction.client.items()}
    return {
        "dagster/row_count": extraction.rows,
        "dagster/column_schema": column_schema(extraction.schema),
        "dagster/uri": uri,
        "preview": dg.MetadataValue.md(markdown_preview(extraction.preview)),
        "duration_s": round(extraction.seconds, 3),
        "records_per_s": round(extraction.records_per_s, 1),
        "bytes_written": extraction.bytes_written,
        "added_fields": extraction.added_fields,
        **client,
        **scan,
    }


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


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


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
