"""Dagster runs started from other processes (spawned pool workers, the multiprocess executor)."""

import dagster as dg

from connector.dagster_defs.assets import asset_key
from connector.dagster_defs.project import XDRS_JOB, build_defs

THREE_ASSETS_JOB = "three_assets_multiprocess"


def materialize_xdr_day(day: str) -> bool:
    """One xDR partition as its own run, configured from the environment; True on success."""
    job = build_defs().resolve_job_def(XDRS_JOB)
    return job.execute_in_process(partition_key=day).success


def three_assets_job() -> dg.JobDefinition:
    """customers, accounts and events, one process per step (for `dg.reconstructable`)."""
    defs = build_defs()
    job = dg.define_asset_job(
        THREE_ASSETS_JOB,
        selection=[asset_key(name) for name in ("customers", "accounts", "events")],
        executor_def=dg.multiprocess_executor,
    )
    return dg.Definitions(assets=defs.assets, jobs=[job], resources=defs.resources).resolve_job_def(
        THREE_ASSETS_JOB
    )
