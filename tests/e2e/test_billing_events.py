"""End to end: invoice and DID mutations → ESPF deliveries → sensor → runs → tables in place."""

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from connector.dagster_defs.project import SNAPSHOT_JOB
from connector.entities import CUSTOMERS
from connector.entities.billing import DIDS, INVOICES
from tests.e2e.conftest import materialize, read_table
from tests.e2e.test_events import deliver, run_requested, tick
from tests.e2e.test_extraction import assert_equal_to_truth

# Each test runs once per table format.
pytestmark = pytest.mark.usefixtures("table_format")

NEW_NUMBER = "+0015550001111"  # text: a leading + and zeros an integer would lose


def apply_pending(events_db: Path) -> None:
    """One sensor tick and the run it requests."""
    with dg.instance_for_test() as instance:
        assert run_requested(instance, tick(instance, events_db)).success


def unpaid_invoices(emu: Any) -> list[int]:
    """The invoices neither paid nor void."""
    rows = emu.truth.table("invoices")
    return [r["i_invoice"] for r in rows if r["invoice_status"] not in ("Paid", "Void")]


def test_invoice_events_update_invoices_and_their_customers_in_place(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(customers=6, accounts=20, xdrs_per_account=0)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    paid, voided = unpaid_invoices(emu)[:2]
    emu.pay_invoice(paid)
    emu.void_invoice(voided)
    issued = emu.issue_invoice(3, amount_due=12.5)["i_invoice"]
    emu.update_customer(3, name="Invoiced Ltd")  # a Customer event too, like the invoice's
    deliver(emu, events_db, duplicates=0.5, shuffle=True, string_ids=0.5)
    emu.counters.reset()
    apply_pending(events_db)
    assert emu.counters.requests.get("Invoice/get_invoice_list", 0) == 0  # re-read one by one
    assert emu.counters.requests["Invoice/get_invoice_info"] == 3
    invoices = {r["i_invoice"]: r for r in read_table(data / "invoices").to_pylist()}
    assert invoices[paid]["invoice_status"] == "Paid" and invoices[voided]["is_void"] is True
    assert issued in invoices
    assert_equal_to_truth(INVOICES.table, data / "invoices", emu.truth.table("invoices"))
    assert_equal_to_truth(CUSTOMERS.table, data / "customers", emu.truth.customers())


def test_did_events_find_the_number_and_update_dids_in_place(
    make_emulator: Any, point_at: Any, events_db: Path
) -> None:
    emu = make_emulator(customers=6, accounts=30, xdrs_per_account=0)
    data = point_at(emu)
    materialize(SNAPSHOT_JOB)
    free = [r["i_did_number"] for r in emu.truth.table("dids") if r["usage"] == "F"]
    created = emu.create_did(NEW_NUMBER)["i_did_number"]
    emu.update_did(free[0], usage="I", i_customer=2)
    emu.update_did(free[1], number="15559990000")  # renumbered: the event names the new number
    emu.delete_did(free[2])
    deliver(emu, events_db, shuffle=True, duplicates=0.5)
    apply_pending(events_db)
    dids = {r["i_did_number"]: r for r in read_table(data / "dids").to_pylist()}
    assert dids[created]["number"] == NEW_NUMBER
    assert dids[free[0]]["usage"] == "I" and dids[free[1]]["number"] == "15559990000"
    assert free[2] not in dids
    assert_equal_to_truth(DIDS.table, data / "dids", emu.truth.table("dids"))
