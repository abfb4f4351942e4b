"""A recent-window entity: the first run is a full snapshot, later runs re-read only the window
and merge it by key, and `full_snapshot: true` renews the whole table."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from connector.dagster_defs.assets import KEYS_CHECK, asset_key
from connector.dagster_defs.project import SNAPSHOT_JOB, build_defs
from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.entity_tables import Before, EntityTable, Since
from connector.entities import BUILT_IN, DateFilter, Entity, ListMethod, RecentWindow
from connector.store.tables import TableSpec, date_col, int_col, text_col
from tests.conftest import TEST_RELEASE
from tests.e2e.test_extraction import assert_equal_to_truth

WINDOW_DAYS = 30
TODAY = datetime.now(UTC).date()
LIST = "Document/get_document_list"

DOCUMENTS = Entity(
    table=TableSpec(
        name="documents",
        key="i_document",
        columns=(
            int_col("i_document", "Document id."),
            date_col("issue_date", "Day the document was issued."),
            text_col("status", "open, paid or void."),
        ),
    ),
    description="Documents; the last 30 days re-read daily.",
    source=ListMethod(
        "Document",
        "get_document_list",
        "document_list",
        "i_document",
        DateFilter("issued_after", "issued_before", format="%Y-%m-%d"),
    ),
    refresh=RecentWindow(window_days=WINDOW_DAYS),
)


def issued(key: int) -> date:
    """Document `key` was issued `3 * key` days ago."""
    return TODAY - timedelta(days=3 * key)


DOCUMENT_TABLE = EntityTable(
    "Document",
    "get_document_list",
    "document_list",
    "i_document",
    records=lambda config: [
        {"i_document": key, "issue_date": issued(key).isoformat(), "status": "open"}
        for key in range(60)
    ],
    name="documents",
    filters=(Since("issued_after", "issue_date"), Before("issued_before", "issue_date")),
)


class Runs:
    """Materializes the documents asset against `emu`; tables land in `data`."""

    def __init__(self, emu: Emulator, data: Path) -> None:
        self.emu, self.data = emu, data
        self._job = build_defs(entities=BUILT_IN.plus(DOCUMENTS)).resolve_job_def(SNAPSHOT_JOB)

    def __call__(self, full: bool = False) -> dg.ExecuteInProcessResult:
        config = {"ops": {"portabilling__documents": {"config": {"full_snapshot": full}}}}
        return self._job.execute_in_process(
            run_config=config, asset_selection=[asset_key("documents")]
        )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runs]:
    config = EmulatorConfig(customers=2, accounts=4, release=TEST_RELEASE, seed=3)
    with Emulator(config, extra_tables=[DOCUMENT_TABLE]) as emu:
        for name, value in {
            "PORTABILLING_URL": emu.url,
            "PORTABILLING_LOGIN": emu.login,
            "PORTABILLING_PASSWORD": emu.password,
            "PORTABILLING_DATA_DIR": str(tmp_path / "data"),
            "PORTABILLING_EVENTS_DB": str(tmp_path / "events.sqlite3"),
            "PORTABILLING_PAGE_SIZE": "5",
        }.items():
            monkeypatch.setenv(name, value)
        yield Runs(emu, tmp_path / "data")


def listed_rows(result: dg.ExecuteInProcessResult) -> Any:
    [event] = result.get_asset_materialization_events()
    return event.materialization.metadata["window_rows"].value


def test_the_first_run_is_a_full_snapshot(run: Runs) -> None:
    run()
    assert_equal_to_truth(DOCUMENTS.table, run.data / "documents", run.emu.truth.table("documents"))


def test_a_later_run_rereads_only_the_window_and_merges_it(run: Runs) -> None:
    run()
    run.emu.update_row("documents", 3, status="paid")  # issued 9 days ago: in the window
    run.emu.update_row("documents", 33, status="void")  # issued 99 days ago: outside
    run.emu.counters.reset()
    result = run()
    in_window = [k for k in range(60) if issued(k) >= TODAY - timedelta(days=WINDOW_DAYS)]
    assert listed_rows(result) == len(in_window) == 11
    # 11 rows in pages of 5: 3 pages (the first with the total) and the total re-read after.
    assert run.emu.counters.requests[LIST] == 4
    truth = {row["i_document"]: row for row in run.emu.truth.table("documents")}
    stale = {**truth, 33: {**truth[33], "status": "open"}}
    assert_equal_to_truth(DOCUMENTS.table, run.data / "documents", list(stale.values()))
    evaluations = result.get_asset_check_evaluations()
    assert [e.passed for e in evaluations if e.check_name == KEYS_CHECK] == [True]


def test_a_full_snapshot_on_request_renews_rows_outside_the_window(run: Runs) -> None:
    run()
    run.emu.update_row("documents", 33, status="void")
    run(full=True)
    assert_equal_to_truth(DOCUMENTS.table, run.data / "documents", run.emu.truth.table("documents"))
