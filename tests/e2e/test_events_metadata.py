"""The events asset reports like the other tables: column schema, preview and the keys check."""

from pathlib import Path
from typing import Any

import dagster as dg

from connector.dagster_defs.project import EVENTS_JOB, SNAPSHOT_JOB
from tests.e2e.conftest import materialize
from tests.e2e.test_events import deliver


def _events_run(make_emulator: Any, point_at: Any, events_db: Path) -> dg.ExecuteInProcessResult:
    emu = make_emulator(customers=3, accounts=10, xdrs_per_account=1)
    point_at(emu)
    materialize(SNAPSHOT_JOB)
    for balance in (1.5, 2.5, 3.5):
        emu.update_account(1002, balance=balance)
    deliver(emu, events_db)
    return materialize(EVENTS_JOB)


def test_the_events_run_reports_schema_preview_and_keys(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    result = _events_run(make_emulator, point_at, events_db)
    [materialization] = [
        m
        for m in result.asset_materializations_for_node("portabilling__events")
        if m.asset_key == dg.AssetKey(["portabilling", "events"])
    ]
    metadata = materialization.metadata
    columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert "i_event" in columns and "event_type" in columns
    preview = metadata["preview"].value
    assert preview.count("Subscriber/Updated") == 3
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    check = checks["keys_unique_and_not_null"]
    assert check.passed
    assert check.metadata["rows"].value == 3
