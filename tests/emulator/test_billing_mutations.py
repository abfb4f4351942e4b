"""Paying, voiding and issuing invoices, changing DIDs: served, in the truth, and as ESPF events."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Api, Webhook


def _open_invoice_issued_days_ago(emu: Emulator, days: int) -> dict:
    today = emu.config.xdr_start + timedelta(days=emu.config.xdr_days)
    issued = (today - timedelta(days=days)).isoformat()
    candidates = [
        row
        for row in emu.truth.table("invoices")
        if row["invoice_status"] == "Open" and row["issue_date"] <= issued
    ]
    return max(candidates, key=lambda row: row["issue_date"])


def test_paying_an_invoice_is_served_and_recorded(emu: Emulator, api: Api) -> None:
    invoice = _open_invoice_issued_days_ago(emu, 10)
    payments_before = len(emu.truth.table("payments"))
    emu.pay_invoice(invoice["i_invoice"])
    info = api.call("Invoice/get_invoice_info", {"i_invoice": invoice["i_invoice"]})["invoice_info"]
    assert (info["invoice_status"], info["amount_paid"]) == ("Paid", invoice["amount_due"])
    assert info in emu.truth.table("invoices")
    assert emu.events == [
        {
            "event_type": "Invoice/Updated",
            "variables": {
                "i_event": 1,
                "i_customer": int(invoice["i_customer"]),
                "i_invoice": invoice["i_invoice"],
            },
        }
    ]
    payments = api.call("Payment/get_payment_transaction_list")["payment_transaction_list"]
    assert len(payments) == payments_before + 1
    assert any(
        p["amount"] == invoice["amount_due"] and p["i_invoice"] == invoice["i_invoice"]
        for p in payments
    )


def test_voiding_an_invoice(emu: Emulator, api: Api) -> None:
    invoice = _open_invoice_issued_days_ago(emu, 10)
    emu.void_invoice(invoice["i_invoice"])
    listed = api.call("Invoice/get_invoice_list", {"i_customer": invoice["i_customer"]})
    voided = [r for r in listed["invoice_list"] if r["i_invoice"] == invoice["i_invoice"]]
    assert [(r["is_void"], r["invoice_status"]) for r in voided] == [("Y", "Void")]
    assert [e["event_type"] for e in emu.events] == ["Invoice/Updated"]


def test_issuing_an_invoice(emu: Emulator, api: Api) -> None:
    total = len(emu.truth.table("invoices"))
    created = emu.issue_invoice(4, amount_net=10.0, amount_due=12.0)
    assert created["i_invoice"] == total + 1
    answer = api.call(
        "Invoice/get_invoice_list", {"issued_after": created["issue_date"], "get_total": 1}
    )
    assert created in answer["invoice_list"]
    assert emu.events[-1]["event_type"] == "Invoice/Created"
    assert emu.events[-1]["variables"] == {"i_event": 1, "i_customer": 4, "i_invoice": total + 1}


def test_paying_a_missing_invoice_raises(emu: Emulator) -> None:
    with pytest.raises(KeyError):
        emu.pay_invoice(10**9)


def test_did_lifecycle_names_the_number(emu: Emulator, api: Api) -> None:
    created = emu.create_did("17779990000")
    emu.update_did(created["i_did_number"], i_customer=2, i_account=1001, usage="I")
    listed = api.call("DID/get_number_list", {"i_customer": 2})["number_list"]
    assert created["i_did_number"] in {r["i_did_number"] for r in listed}
    emu.delete_did(created["i_did_number"])
    assert api.call("DID/get_number_info", {"i_did_number": created["i_did_number"]}) == {}
    assert created["i_did_number"] not in {r["i_did_number"] for r in emu.truth.table("dids")}
    assert emu.events == [
        {"event_type": f"DID/{action}", "variables": {"i_event": n, "number": "17779990000"}}
        for n, action in enumerate(("Created", "Updated", "Deleted"), 1)
    ]


def test_billing_events_are_delivered_like_the_others(emu: Emulator, webhook: Webhook) -> None:
    invoice = _open_invoice_issued_days_ago(emu, 10)
    emu.pay_invoice(invoice["i_invoice"])
    emu.create_did("17779990001")
    report = emu.deliver_events(webhook.url, ("basic", "espf", "secret"), legacy_types=True)
    assert report.acknowledged == 2
    assert [body["event_type"] for body in webhook.bodies()] == ["Invoice/Updated", "DID/Created"]


def test_churn_issues_and_removes_invoices_while_paging(
    make_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    emu = make_emulator(churn_per_page=3)
    api = make_api(emu)
    api.login()
    before = {row["i_invoice"] for row in emu.truth.table("invoices")}
    page = api.call("Invoice/get_invoice_list", {"limit": 10})["invoice_list"]
    after = {row["i_invoice"] for row in emu.truth.table("invoices")}
    assert after != before and len(after) == len(before)
    assert page == emu.truth.table("invoices")[:10]
    assert [e["event_type"] for e in emu.events] == ["Invoice/Created"] * 3


def test_counters_tell_a_window_re_read_from_a_full_read(emu: Emulator, api: Api) -> None:
    emu.reset_counters()
    window = {"issued_after": "2023-12-01"}
    expected = [r for r in emu.truth.table("invoices") if r["issue_date"] >= "2023-12-01"]
    size = 5
    read = 0
    while True:
        page = api.call("Invoice/get_invoice_list", {"limit": size, "offset": read, **window})
        read += len(page["invoice_list"])
        if len(page["invoice_list"]) < size:
            break
    assert read == len(expected)
    assert emu.counters.requests["Invoice/get_invoice_list"] == len(expected) // size + 1


def test_event_ids_are_integers_where_the_record_has_text(emu: Emulator) -> None:
    emu.issue_invoice("5")  # type: ignore[arg-type]
    assert emu.events[-1]["variables"]["i_customer"] == 5
