"""The maintenance job compacts the events table's day partitions and reports it per table."""

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from connector.dagster_defs.naming import DEFAULT_NAMING
from connector.dagster_defs.project import SNAPSHOT_JOB, build_defs
from connector.events.auth import BasicAuth
from connector.events.receiver import EventReceiver
from connector.events.store import EventStore
from tests.e2e.conftest import materialize
from tests.e2e.test_events import ROUTING, WEBHOOK, run_requested, tick

MAINTENANCE_JOB = DEFAULT_NAMING.name("maintenance_job")


def deliver_new(emu: Any, db: Path) -> None:
    """Deliver the events the emulator has not delivered yet."""
    with (
        EventStore(str(db)) as store,
        EventReceiver(store, BasicAuth(*WEBHOOK), routing=ROUTING) as rx,
    ):
        report = emu.deliver_events(f"{rx.url}/events", ("basic", *WEBHOOK))
    assert report.acknowledged_events


def test_maintenance_merges_the_files_of_each_events_run(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(customers=4, accounts=20, xdrs_per_account=1)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    with dg.instance_for_test() as instance:
        cursor = None
        for i_account in (1001, 1002, 1003):
            emu.update_account(i_account, balance=7.5)
            deliver_new(emu, events_db)
            result = tick(instance, events_db, cursor)
            assert run_requested(instance, result).success
            assert isinstance(result, dg.SensorResult)
            cursor = result.cursor
        files = sorted((data / "events").rglob("*.parquet"))
        assert len(files) == 3
        ids = sorted(pq.read_table(data / "events")["i_event"].to_pylist())

        job = build_defs().resolve_job_def(MAINTENANCE_JOB)
        assert job.execute_in_process(instance=instance).success

        assert len(list((data / "events").rglob("*.parquet"))) == 1
        assert sorted(pq.read_table(data / "events")["i_event"].to_pylist()) == ids
        observed = instance.fetch_observations(DEFAULT_NAMING.asset_key("events"), limit=1)
        [record] = observed.records
        metadata = record.asset_observation.metadata
        assert (metadata["files_before"].value, metadata["files_after"].value) == (3, 1)


def test_the_maintenance_schedule_is_daily_in_utc() -> None:
    schedule = build_defs().resolve_schedule_def(DEFAULT_NAMING.name("daily_maintenance"))
    assert schedule.job_name == MAINTENANCE_JOB
    assert schedule.cron_schedule == "30 0 * * *"
    assert schedule.execution_timezone == "UTC"
