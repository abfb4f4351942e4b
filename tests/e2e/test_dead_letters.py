"""Quarantine, never block: poison events and faulting entities dead-lettered, the rest applied."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from connector.api.client import PortaBillingClient
from connector.api.errors import FaultError, TransientError
from connector.api.settings import ClientSettings
from connector.commands.cli import main
from connector.dagster_defs.assets import DEAD_LETTERS_CHECK, asset_key
from connector.dagster_defs.project import EVENTS_JOB, SNAPSHOT_JOB
from connector.entities import ACCOUNTS, BUILT_IN, CUSTOMERS
from connector.events.store import DEAD, PENDING, EventStore
from connector.events.types import EntityRef, Event
from connector.store.storage import TableStore
from connector.sync.refresh import apply_batch
from tests.e2e.conftest import materialize
from tests.e2e.expected import OWNER_COPIES
from tests.e2e.test_extraction import assert_equal_to_truth

ACCOUNT_INFO = "Account/get_account_info"


def event(
    i_event: int, event_type: str, kind: str | None, entity_id: int | None, **variables: Any
) -> Event:
    """An event as a receiver stores it, with no validation (older receivers accepted more)."""
    return Event(
        i_event=i_event,
        event_type=event_type,
        variables={"i_event": i_event, **variables},
        entities=() if kind is None or entity_id is None else (EntityRef(kind, entity_id),),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def account_event(i_event: int, i_account: int) -> Event:
    return event(i_event, "Subscriber/Updated", "accounts", i_account, i_account=i_account)


def customer_event(i_event: int, i_customer: int, **variables: Any) -> Event:
    kind = "customers"
    return event(i_event, "Customer/Updated", kind, i_customer, i_customer=i_customer, **variables)


def store_events(db: Path, *events: Event) -> None:
    with EventStore(str(db)) as store:
        store.add_many(events)


def dead_letters(db: Path) -> dict[int, str]:
    with EventStore(str(db)) as store:
        return {dead.i_event: dead.error for dead in store.dead_letters()}


def counts(db: Path) -> dict[str, int]:
    with EventStore(str(db)) as store:
        return store.counts()


def events_in_table(data: Path) -> list[int]:
    return sorted(pq.read_table(data / "events")["i_event"].to_pylist())


def dead_letter_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == DEAD_LETTERS_CHECK
    ]
    return evaluation


@pytest.fixture
def emu(make_emulator: Any) -> Any:
    return make_emulator(customers=6, accounts=20, xdrs_per_account=1)


@pytest.fixture
def data(emu: Any, point_at: Any, events_db: Path) -> Path:
    """Tables snapshotted from the emulator, and an event store of their own."""
    path = point_at(emu)
    materialize(SNAPSHOT_JOB)
    return path


def test_poison_events_are_dead_lettered_and_the_rest_applied(
    emu: Any, data: Path, events_db: Path
) -> None:
    emu.update_account(1003, blocked="Y")
    emu.update_customer(3, name="Renamed Ltd")
    store_events(
        events_db,
        account_event(1, 1003),
        customer_event(2, 1, i_account="not-a-number"),
        customer_event(3, 3),
        event(4, "Foo/Bar", None, None, i_customer=2**64),
    )
    result = materialize(EVENTS_JOB)
    assert result.success
    assert_equal_to_truth(
        ACCOUNTS.table, data / "accounts", emu.truth.accounts(), ignore=OWNER_COPIES
    )
    assert_equal_to_truth(CUSTOMERS.table, data / "customers", emu.truth.customers())
    assert events_in_table(data) == [1, 3]
    dead = dead_letters(events_db)
    assert sorted(dead) == [2, 4]
    assert "ConversionError: column 'i_account'" in dead[2]
    assert "OverflowError" in dead[4]
    assert counts(events_db) == {PENDING: 0, "claimed": 0, "done": 2, DEAD: 2}
    [materialization] = [
        m
        for m in result.asset_materializations_for_node("portabilling__events")
        if m.asset_key == asset_key("events")
    ]
    metadata = materialization.metadata
    assert (metadata["events_applied"].value, metadata["events_dead_lettered"].value) == (2, 2)
    check = dead_letter_check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_requeued_poison_is_tried_again_and_set_aside_again(
    emu: Any, data: Path, events_db: Path
) -> None:
    store_events(events_db, customer_event(2, 1, i_account="not-a-number"), account_event(5, 1004))
    materialize(EVENTS_JOB)
    with EventStore(str(events_db)) as store:
        assert store.requeue_dead() == 1
        assert store.pending_summary().count == 1
    assert materialize(EVENTS_JOB).success
    assert sorted(dead_letters(events_db)) == [2]
    assert events_in_table(data) == [5]


def test_only_the_faulting_entitys_events_are_dead_lettered_until_requeued(
    emu: Any, data: Path, events_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.config.faulty_ids = {ACCOUNT_INFO: {1005}}
    emu.update_account(1003, blocked="Y")
    emu.update_account(1005, balance=12.5)
    store_events(
        events_db,
        account_event(1, 1003),
        event(2, "Account/BalanceChanged", "accounts", 1005, i_account=1005),
        account_event(3, 1005),
        customer_event(4, 3),
    )
    assert materialize(EVENTS_JOB).success
    dead = dead_letters(events_db)
    assert sorted(dead) == [2, 3]
    assert "Server.internal_error" in dead[2]
    assert events_in_table(data) == [1, 4]
    others = {int(a["i_account"]) for a in emu.truth.accounts()} - {1005}
    assert_equal_to_truth(ACCOUNTS.table, data / "accounts", emu.truth.accounts(), keys=others)

    emu.config.faulty_ids = {}
    assert main(["events", "dead-letter", "--requeue", "--db", str(events_db)]) == 0
    assert "requeued 2 events" in capsys.readouterr().out
    result = materialize(EVENTS_JOB)
    assert result.success and dead_letter_check(result).passed
    assert_equal_to_truth(ACCOUNTS.table, data / "accounts", emu.truth.accounts())
    assert events_in_table(data) == [1, 2, 3, 4]


def test_an_entity_whose_record_cannot_be_converted_is_dead_lettered(
    emu: Any, data: Path, events_db: Path
) -> None:
    emu.update_account(1003, blocked="Y")
    emu.update_account(1005, balance="a lot")
    store_events(events_db, account_event(1, 1003), account_event(2, 1005))
    assert materialize(EVENTS_JOB).success
    dead = dead_letters(events_db)
    assert list(dead) == [2] and "accounts row: ConversionError: column 'balance'" in dead[2]
    others = {int(a["i_account"]) for a in emu.truth.accounts()} - {1005}
    assert_equal_to_truth(ACCOUNTS.table, data / "accounts", emu.truth.accounts(), keys=others)
    assert events_in_table(data) == [1]


def test_a_fault_for_every_entity_fails_the_run_and_dead_letters_nothing(
    emu: Any, data: Path, events_db: Path
) -> None:
    emu.config.faulty_ids = {ACCOUNT_INFO: {1003, 1005}}
    store_events(events_db, account_event(1, 1003), account_event(2, 1005))
    result = materialize(EVENTS_JOB, raise_on_error=False)
    assert not result.success
    assert counts(events_db) == {PENDING: 2, "claimed": 0, "done": 0, DEAD: 0}


def test_a_server_that_keeps_failing_fails_the_batch_and_dead_letters_nothing(
    emu: Any, data: Path, events_db: Path
) -> None:
    emu.config.transient_error_rate = 1.0
    store_events(events_db, account_event(1, 1003), customer_event(2, 3))
    client = PortaBillingClient(
        emu.url,
        login=emu.login,
        password=emu.password,
        settings=ClientSettings(max_retries=1, backoff_base_s=0.001),
    )
    with EventStore(str(events_db)) as store, client:
        batch = store.claim_pending("run-a")
        with pytest.raises(TransientError):
            apply_batch(client, TableStore(str(data)), store, batch, BUILT_IN, concurrency=2)
        assert store.counts()[DEAD] == 0


def test_a_single_faulting_entity_is_dead_lettered(emu: Any, data: Path, events_db: Path) -> None:
    emu.config.faulty_ids = {ACCOUNT_INFO: {1003}}
    store_events(events_db, account_event(1, 1003))
    assert materialize(EVENTS_JOB).success
    assert list(dead_letters(events_db)) == [1]
    assert FaultError.__name__ in dead_letters(events_db)[1]
