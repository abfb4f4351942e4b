"""End to end through Dagster: the billing tables equal the emulator's truth under faults."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from connector.dagster_defs.assets import KEYS_CHECK, asset_key
from connector.dagster_defs.project import SNAPSHOT_JOB, XDRS_JOB, build_defs
from connector.emulator import Emulator, EmulatorConfig
from connector.entities import BUILT_IN, Entity
from connector.entities.billing import INVOICES, VENDOR_XDRS
from tests.conftest import TEST_RELEASE
from tests.e2e.conftest import RacingClock, materialize
from tests.e2e.test_extraction import assert_equal_to_truth, environment

SNAPSHOTS = ["invoices", "payments", "products", "subscription_plans", "dids", "vendors"]
LIVE = {"invoices", "payments", "dids"}  # lists the emulator churns while they are paged
INVOICE_LIST = "Invoice/get_invoice_list"


def keys(entity: Entity, rows: list[dict[str, Any]]) -> set[int]:
    return {int(row[entity.table.key]) for row in rows}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One snapshot run with every fault knob on; the tests below inspect what it left."""
    config = EmulatorConfig(
        customers=30,
        accounts=300,
        xdrs_per_account=1,
        release=TEST_RELEASE,
        token_lifetime_s=3,
        transient_error_rate=0.05,
        session_kill_rate=0.03,
        # The racing clock passes ~20 requests a second: a few of them get a 429 to retry.
        rate_limit_rps=15,
        retry_after_s=0,
        total_as_string=True,
        churn_per_page=2,
        seed=13,
    )
    data = tmp_path_factory.mktemp("billing") / "data"
    with (
        Emulator(config, clock=RacingClock(step=0.025)) as emu,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in environment(emu, data).items():
            mp.setenv(name, value)
        mp.setenv("PORTABILLING_EVENTS_DB", str(data.parent / "events.sqlite3"))
        before = {name: emu.truth.table(name) for name in SNAPSHOTS}
        result = materialize(SNAPSHOT_JOB)
        yield {"emu": emu, "data": data, "result": result, "before": before}


def test_faults_were_really_served(faulty_run: dict[str, Any]) -> None:
    counters = faulty_run["emu"].counters
    assert counters.transient_errors > 0 and counters.throttled > 0
    assert counters.refreshes + counters.logins > 1


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_snapshot_equals_truth_field_by_field(faulty_run: dict[str, Any], name: str) -> None:
    entity, emu = BUILT_IN[name], faulty_run["emu"]
    truth = emu.truth.table(name)
    stable = keys(entity, faulty_run["before"][name]) & keys(entity, truth)
    if name not in LIVE:
        assert stable == keys(entity, truth)
    assert len(stable) > 3
    assert_equal_to_truth(entity.table, faulty_run["data"] / name, truth, stable)


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_snapshot_has_the_declared_types(faulty_run: dict[str, Any], name: str) -> None:
    schema = pq.read_table(faulty_run["data"] / name).schema
    declared = BUILT_IN[name].table.schema
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in declared]


def test_keys_checks_pass_for_every_table(faulty_run: dict[str, Any]) -> None:
    evaluations = faulty_run["result"].get_asset_check_evaluations()
    passed = {e.asset_key.path[-1]: e.passed for e in evaluations if e.check_name == KEYS_CHECK}
    assert {name: passed[name] for name in SNAPSHOTS} == dict.fromkeys(SNAPSHOTS, True)


def test_no_secret_in_any_file(faulty_run: dict[str, Any]) -> None:
    emu = faulty_run["emu"]
    vendors = {row["password"] for row in emu.truth.table("vendors")}
    payments = {row["payment_token"] for row in emu.truth.table("payments")}
    secrets = {emu.password, *vendors, *payments}
    assert len(vendors) == 5 and len(payments) > 20
    blob = b"".join(p.read_bytes() for p in faulty_run["data"].rglob("*") if p.is_file())
    assert [s for s in secrets if s.encode() in blob] == []


def test_vendor_xdr_backfill_of_three_days_equals_truth(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(
        clock=RacingClock(step=0.025),
        customers=8,
        accounts=60,
        xdrs_per_account=6,
        xdr_days=3,
        token_lifetime_s=1,
        transient_error_rate=0.1,
        session_kill_rate=0.03,
        rate_limit_rps=15,  # on, but too few requests here to be sure of a 429 (the snapshot is)
        retry_after_s=0,
        total_as_string=True,
    )
    data = point_at(emu)
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    for day in days:
        materialize(XDRS_JOB, day.isoformat())
    counters = emu.counters
    assert counters.transient_errors > 0
    assert counters.refreshes + counters.logins > len(days)  # more than one login per run
    for day in days:
        path = data / "vendor_xdrs" / f"date={day.isoformat()}"
        truth = emu.truth.vendor_xdrs(day)
        assert len(truth) > 20
        assert_equal_to_truth(VENDOR_XDRS.table, path, truth)
        schema = pq.read_table(path).schema
        assert [(f.name, f.type) for f in schema] == [
            (f.name, f.type) for f in VENDOR_XDRS.table.schema
        ]


def test_rerunning_a_vendor_xdr_day_replaces_it(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(customers=5, accounts=30, xdrs_per_account=4, xdr_days=2)
    data = point_at(emu)
    materialize(XDRS_JOB, "2024-01-02")
    path = data / "vendor_xdrs" / "date=2024-01-02" / "part-00000.parquet"
    first = pq.read_table(path)
    materialize(XDRS_JOB, "2024-01-02")
    second = pq.read_table(path)
    assert second.num_rows == first.num_rows == len(emu.truth.vendor_xdrs(date(2024, 1, 2)))
    assert second["_extracted_at"][0] != first["_extracted_at"][0]
    assert [p.name for p in path.parent.iterdir()] == ["part-00000.parquet"]


TODAY = datetime.now(UTC).date()
WINDOW_DAYS = 30


class InvoiceRuns:
    """Materializes the invoices asset alone, as the daily snapshot job would."""

    def __init__(self, emu: Emulator, data: Path) -> None:
        self.emu, self.data = emu, data
        self._job = build_defs().resolve_job_def(SNAPSHOT_JOB)

    def __call__(self) -> dg.ExecuteInProcessResult:
        return self._job.execute_in_process(asset_selection=[asset_key("invoices")])


@pytest.fixture
def invoice_runs(
    make_emulator: Any, point_at: Any, events_db: Path, monkeypatch: pytest.MonkeyPatch
) -> InvoiceRuns:
    """An emulated world whose "today" is today, the invoice window sized by the environment."""
    emu = make_emulator(
        customers=60, accounts=60, xdrs_per_account=0, xdr_start=TODAY - timedelta(days=3)
    )
    data = point_at(emu)
    monkeypatch.setenv("PORTABILLING_PAGE_SIZE", "10")
    monkeypatch.setenv("PORTABILLING_INVOICE_WINDOW_DAYS", str(WINDOW_DAYS))
    return InvoiceRuns(emu, data)


def issued_days_ago(emu: Emulator, days: int) -> int:
    """An unpaid, unvoided invoice issued about `days` ago (the closest one)."""
    open_ones = [row for row in emu.truth.table("invoices") if row["invoice_status"] != "Paid"]
    return min(
        (abs((TODAY - date.fromisoformat(row["issue_date"])).days - days), row["i_invoice"])
        for row in open_ones
        if row["is_void"] == "N"
    )[1]


def test_the_daily_run_rereads_only_the_window_and_shows_paid_and_voided_invoices(
    invoice_runs: InvoiceRuns,
) -> None:
    emu = invoice_runs.emu
    invoice_runs()
    recent, old = issued_days_ago(emu, 10), issued_days_ago(emu, 45)
    emu.pay_invoice(recent)
    emu.void_invoice(old)  # outside the 30-day window (inside the default 60)
    emu.counters.reset()
    result = invoice_runs()
    since = TODAY - timedelta(days=WINDOW_DAYS)
    truth = emu.truth.table("invoices")
    in_window = [row for row in truth if date.fromisoformat(row["issue_date"]) >= since]
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["window_rows"].value == len(in_window)
    # Pages of 10 until a short one ends the window's rows, then the total re-read.
    assert emu.counters.requests[INVOICE_LIST] == len(in_window) // 10 + 1 + 1
    assert len(truth) > 2 * len(in_window)
    by_key = {row["i_invoice"]: row for row in truth}
    table = {
        row["i_invoice"]: row for row in pq.read_table(invoice_runs.data / "invoices").to_pylist()
    }
    assert table[recent]["invoice_status"] == "Paid"
    assert table[old]["is_void"] is False
    assert_equal_to_truth(
        INVOICES.table, invoice_runs.data / "invoices", truth, set(by_key) - {old}
    )
