"""End to end through Dagster: snapshots and xDR partitions equal the emulator's truth."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from connector.dagster_defs.project import SNAPSHOT_JOB, XDRS_JOB
from connector.emulator import Emulator, EmulatorConfig
from connector.entities import ACCOUNTS, BUILT_IN, CUSTOMERS, XDRS, FullSnapshot, RecentWindow
from connector.store.tables import TableSpec
from tests.conftest import TEST_RELEASE
from tests.e2e.conftest import RacingClock, materialize, read_table
from tests.e2e.expected import actual_row, expected_row

REPO = Path(__file__).resolve().parents[2]


def table_rows(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    table = read_table(path)
    return table.schema, table.to_pylist()


def assert_equal_to_truth(
    spec: TableSpec,
    path: Path,
    truth: list[dict[str, Any]],
    keys: set[int] | None = None,
    ignore: frozenset[str] = frozenset(),
) -> None:
    """Rows for `keys` (default: all of truth) equal truth field by field but `ignore`, each key
    once."""
    schema, rows = table_rows(path)
    by_key = {row[spec.key]: row for row in rows}
    assert len(by_key) == len(rows), "duplicate keys"
    wanted = {int(r[spec.key]): r for r in truth if keys is None or int(r[spec.key]) in keys}
    assert set(wanted) <= set(by_key), f"missing {sorted(set(wanted) - set(by_key))[:10]}"
    if keys is None:
        assert set(by_key) == set(wanted), "rows that are not in the truth"
    for key, record in wanted.items():
        actual = actual_row(schema, by_key[key], ignore)
        assert actual == expected_row(spec, schema, record, ignore), key


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One snapshot run through every fault knob; the tests below inspect what it left."""
    config = EmulatorConfig(
        customers=40,
        accounts=700,
        xdrs_per_account=2,
        release=TEST_RELEASE,
        token_lifetime_s=3,
        transient_error_rate=0.05,
        session_kill_rate=0.03,
        rate_limit_rps=400,
        retry_after_s=1,
        total_as_string=True,
        churn_per_page=2,
        seed=11,
    )
    data = tmp_path_factory.mktemp("faulty") / "data"
    # The emulator reads its clock twice per request: 10-row pages make ~85 requests, >= 4.25 s of
    # racing time, so 3-second tokens always expire; each still lives ~60 requests of all threads,
    # so a thread starved on a loaded machine does not see its fresh token expire before use.
    racing = RacingClock(step=0.025)
    with Emulator(config, clock=racing) as emu, pytest.MonkeyPatch.context() as mp:
        for name, value in environment(emu, data).items():
            mp.setenv(name, value)
        before = {int(r["i_account"]) for r in emu.truth.accounts()}
        result = materialize(SNAPSHOT_JOB)
        yield {
            "emu": emu,
            "data": data,
            "result": result,
            "stable_accounts": before & {int(r["i_account"]) for r in emu.truth.accounts()},
        }


def environment(emu: Emulator, data: Path) -> dict[str, str]:
    return {
        "PORTABILLING_URL": emu.url,
        "PORTABILLING_LOGIN": emu.login,
        "PORTABILLING_PASSWORD": emu.password,
        "PORTABILLING_DATA_DIR": str(data),
        "PORTABILLING_XDR_START_DATE": "2024-01-01",
        "PORTABILLING_PAGE_SIZE": "10",
    }


def test_faults_were_really_served(faulty_run: dict[str, Any]) -> None:
    counters = faulty_run["emu"].counters
    assert counters.transient_errors > 0
    assert counters.refreshes + counters.logins > 1
    assert counters.retry_after_ignored == 0


def test_customers_equal_truth_under_faults(faulty_run: dict[str, Any]) -> None:
    truth = faulty_run["emu"].truth.customers()
    assert_equal_to_truth(CUSTOMERS.table, faulty_run["data"] / "customers", truth)


def test_accounts_hold_every_stable_account_once_under_churn(faulty_run: dict[str, Any]) -> None:
    emu, stable = faulty_run["emu"], faulty_run["stable_accounts"]
    assert_equal_to_truth(
        ACCOUNTS.table, faulty_run["data"] / "accounts", emu.truth.accounts(), stable
    )


def test_checks_pass(faulty_run: dict[str, Any]) -> None:
    evaluations = faulty_run["result"].get_asset_check_evaluations()
    keys_checks = [e for e in evaluations if e.check_name == "keys_unique_and_not_null"]
    snapshots = BUILT_IN.refreshed_by(FullSnapshot, RecentWindow)
    assert len(keys_checks) == len(snapshots) and all(e.passed for e in keys_checks)


def test_metadata_reports_the_run(faulty_run: dict[str, Any]) -> None:
    [accounts] = [
        m
        for m in faulty_run["result"].get_asset_materialization_events()
        if m.asset_key.path == ["portabilling", "accounts"]
    ]
    metadata = accounts.materialization.metadata
    assert metadata["dagster/row_count"].value == len(
        pq.read_table(faulty_run["data"] / "accounts")
    )
    assert metadata["api/retries"].value > 0
    assert "drift/gaps_repaired" in metadata and "preview" in metadata


def test_no_secret_in_any_file(faulty_run: dict[str, Any]) -> None:
    emu = faulty_run["emu"]
    secrets = {emu.password, emu.api_token}
    for record in emu.truth.accounts() + emu.truth.customers():
        secrets |= {str(v) for k, v in record.items() if "password" in k or "token" in k}
    blob = b"".join(p.read_bytes() for p in faulty_run["data"].rglob("*") if p.is_file())
    leaked = [s for s in secrets if s and s.encode() in blob]
    assert not leaked


def test_table_folders_hold_only_parquet(faulty_run: dict[str, Any]) -> None:
    for table in ("customers", "accounts"):
        names = [p.name for p in (faulty_run["data"] / table).iterdir()]
        assert names == ["part-00000.parquet"]


def test_xdr_backfill_of_three_days_equals_truth(make_emulator: Any, point_at: Any) -> None:
    emu = make_emulator(customers=8, accounts=60, xdrs_per_account=6, xdr_days=3)
    data = point_at(emu)
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    for day in days:
        materialize(XDRS_JOB, day.isoformat())
    for day in days:
        path = data / "xdrs" / f"date={day.isoformat()}"
        assert_equal_to_truth(XDRS.table, path, emu.truth.xdrs(day))


def test_rerunning_a_partition_replaces_it(make_emulator: Any, point_at: Any) -> None:
    emu = make_emulator(customers=5, accounts=30, xdrs_per_account=4, xdr_days=2)
    data = point_at(emu)
    materialize(XDRS_JOB, "2024-01-02")
    path = data / "xdrs" / "date=2024-01-02" / "part-00000.parquet"
    first = pq.read_table(path)
    materialize(XDRS_JOB, "2024-01-02")
    second = pq.read_table(path)
    assert second.num_rows == first.num_rows == len(emu.truth.xdrs(date(2024, 1, 2)))
    assert second["_extracted_at"][0] != first["_extracted_at"][0]


def test_missing_variable_fails_the_run_naming_it(
    make_emulator: Any, point_at: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(make_emulator(accounts=5))
    monkeypatch.delenv("PORTABILLING_URL")
    with pytest.raises(Exception, match="PORTABILLING_URL"):
        materialize(SNAPSHOT_JOB)


def test_sigkill_mid_extraction_leaves_previous_table(make_emulator: Any, point_at: Any) -> None:
    emu = make_emulator(customers=10, accounts=3000)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    published = data / "accounts"  # 3000 rows: two key buckets
    before = {p.name: p.read_bytes() for p in published.iterdir()}
    emu.config.latency_s = 0.05
    emu.update_account(1000, blocked="Y")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "definitions",
            "--select",
            "portabilling/accounts",
        ],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(data.parent / "dagster_home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    (data.parent / "dagster_home").mkdir(exist_ok=True)
    pages_before = emu.counters.requests.get("Account/get_account_list", 0)
    try:
        wait_for(
            lambda: emu.counters.requests.get("Account/get_account_list", 0) > pages_before + 10
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert {p.name: p.read_bytes() for p in published.iterdir()} == before
    assert pq.read_table(published).num_rows == 3000


def wait_for(condition: Any, limit_s: float = 60.0) -> None:
    """Poll for an event in another process (bounded); not a wait for time to pass."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)
