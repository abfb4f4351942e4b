"""End to end: emulator mutations → ESPF deliveries → receiver → sensor → runs → tables."""

import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from connector.dagster_defs.project import EVENTS_JOB, SNAPSHOT_JOB, build_defs
from connector.dagster_defs.resources import EventStoreResource
from connector.dagster_defs.sensors import SENSOR_NAME
from connector.entities import ACCOUNTS, BUILT_IN, CUSTOMERS
from connector.events.auth import BasicAuth
from connector.events.receiver import EventReceiver
from connector.events.store import EventStore
from tests.e2e.conftest import materialize, read_table
from tests.e2e.expected import OWNER_COPIES
from tests.e2e.test_extraction import assert_equal_to_truth, wait_for

# Each test runs once per table format.
pytestmark = pytest.mark.usefixtures("table_format")

ROUTING = BUILT_IN.routing()

WEBHOOK = ("espf", "hook-secret")


def mutate(emu: Any) -> None:
    """Blocks, balance changes, a closed and a new account, a renamed and a deleted customer."""
    emu.update_account(1003, blocked="Y")
    emu.update_account(1003, blocked="N")
    emu.update_account(1003, blocked="Y")
    emu.update_account(1005, balance=12.5)
    emu.delete_account(1007)
    emu.create_account(2, firstname="Nouveau")
    emu.update_customer(3, name="Renamed Ltd", blocked="Y")
    emu.delete_customer(5)


def deliver(emu: Any, db: Path, **options: Any) -> None:
    with (
        EventStore(str(db)) as store,
        EventReceiver(store, BasicAuth(*WEBHOOK), routing=ROUTING) as rx,
    ):
        report = emu.deliver_events(f"{rx.url}/events", ("basic", *WEBHOOK), **options)
    assert report.acknowledged_events == {e["variables"]["i_event"] for e in emu.events}


def tick(
    instance: dg.DagsterInstance, db: Path, cursor: str | None = None
) -> dg.SensorResult | dg.SkipReason:
    """One evaluation of the sensor, as the daemon would run it after a tick with `cursor`."""
    [sensor] = [s for s in build_defs().sensors if s.name == SENSOR_NAME]
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"events_store": EventStoreResource(path=str(db))},
    )
    return sensor(context)


def run_requested(instance: dg.DagsterInstance, result: Any) -> dg.ExecuteInProcessResult:
    assert isinstance(result, dg.SensorResult), result
    [request] = result.run_requests
    return (
        build_defs()
        .resolve_job_def(EVENTS_JOB)
        .execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
    )


def test_events_bring_tables_to_the_emulators_state(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(customers=6, accounts=40, xdrs_per_account=1)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    mutate(emu)
    deliver(emu, events_db, duplicates=0.5, shuffle=True, string_ids=0.5, legacy_types=True)
    with dg.instance_for_test() as instance:
        first = tick(instance, events_db)
        assert run_requested(instance, first).success
        assert isinstance(first, dg.SensorResult)
        assert isinstance(tick(instance, events_db, first.cursor), dg.SkipReason)
    assert_equal_to_truth(
        ACCOUNTS.table, data / "accounts", emu.truth.accounts(), ignore=OWNER_COPIES
    )
    assert_equal_to_truth(CUSTOMERS.table, data / "customers", emu.truth.customers())
    stored = read_table(data / "events")["i_event"].to_pylist()
    assert sorted(stored) == sorted({e["variables"]["i_event"] for e in emu.events})


def test_a_failed_run_leaves_events_pending_and_the_next_applies_them_once(
    make_emulator: Any, point_at: Any, events_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(customers=6, accounts=20, xdrs_per_account=1)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    mutate(emu)
    deliver(emu, events_db)
    with dg.instance_for_test() as instance:
        monkeypatch.setenv("PORTABILLING_PASSWORD", "wrong")
        first = tick(instance, events_db)
        assert not run_requested(instance, first).success
        with EventStore(str(events_db)) as store:
            assert store.counts()["pending"] == len(emu.events)
        monkeypatch.setenv("PORTABILLING_PASSWORD", emu.password)
        assert isinstance(first, dg.SensorResult)
        second = tick(instance, events_db, first.cursor)
        assert run_requested(instance, second).success
    assert first.run_requests[0].run_key != second.run_requests[0].run_key
    assert_equal_to_truth(
        ACCOUNTS.table, data / "accounts", emu.truth.accounts(), ignore=OWNER_COPIES
    )
    stored = read_table(data / "events")["i_event"].to_pylist()
    assert len(stored) == len(set(stored)) == len(emu.events)


def test_events_applied_during_a_snapshot_survive_it(
    make_emulator: Any, point_at: Any, events_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot reads an account, the event updates it, the snapshot publishes: not lost."""
    emu = make_emulator(customers=6, accounts=600, xdrs_per_account=1)
    data = point_at(emu)
    monkeypatch.setenv("PORTABILLING_PAGE_SIZE", "10")
    materialize(SNAPSHOT_JOB)
    emu.config.latency_s = 0.4
    listed = emu.counters.requests.get("Account/get_account_list", 0)
    snapshot = threading.Thread(target=materialize, args=(SNAPSHOT_JOB,))
    snapshot.start()
    wait_for(lambda: emu.counters.requests.get("Account/get_account_list", 0) > listed)
    mutate(emu)
    deliver(emu, events_db)
    with dg.instance_for_test() as instance:
        first = tick(instance, events_db)
        assert run_requested(instance, first).success
        assert snapshot.is_alive(), "the snapshot ended before the events run: nothing tested"
        snapshot.join()
        assert isinstance(first, dg.SensorResult)
        again = tick(instance, events_db, first.cursor)
        assert run_requested(instance, again).success
    assert_equal_to_truth(ACCOUNTS.table, data / "accounts", emu.truth.accounts())
    assert_equal_to_truth(CUSTOMERS.table, data / "customers", emu.truth.customers())
