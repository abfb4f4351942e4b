"""The maintenance job: compacts every table on a daily schedule (Delta: optimize and vacuum).

Appends leave one file per batch in the events table's day partitions; the job merges each
day's files into one, and records what it did as an observation of each table's asset.
"""

import dagster as dg

from connector.dagster_defs.naming import DEFAULT_NAMING, Naming

DEFAULT_MAINTENANCE_CRON = "30 0 * * *"  # UTC: just after the day's partition of events closes


def maintenance_job(tables: list[str], naming: Naming = DEFAULT_NAMING) -> dg.JobDefinition:
    """One op that maintains each table in turn."""

    @dg.op(
        name=naming.name("maintain_tables"),
        required_resource_keys={naming.storage},
        description=f"Compact {', '.join(tables)}: merge small files (Delta: optimize, vacuum).",
    )
    def maintain_tables(context: dg.OpExecutionContext) -> None:
        store = naming.resource(context, "storage").get_store()
        for table in tables:
            result = store.maintain(table)
            context.log.info(
                f"{table}: {result.files_before} files -> {result.files_after} "
                f"({result.files_removed} replaced, {result.bytes_written:,} bytes written)"
            )
            context.log_event(
                dg.AssetObservation(
                    asset_key=naming.asset_key(table),
                    description="Table maintenance",
                    metadata={
                        "files_before": result.files_before,
                        "files_after": result.files_after,
                        "files_removed": result.files_removed,
                        "bytes_written": result.bytes_written,
                    },
                )
            )

    @dg.job(
        name=naming.name("maintenance_job"),
        description="Compact every table (Delta: optimize and vacuum).",
    )
    def _job() -> None:
        maintain_tables()

    return _job


def maintenance_schedule(job: dg.JobDefinition, cron: str, naming: Naming) -> dg.ScheduleDefinition:
    """The maintenance job every day on `cron` (UTC)."""
    return dg.ScheduleDefinition(
        name=naming.name("daily_maintenance"),
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        description=f"Compact every table on `{cron}` (UTC).",
    )
