"""The billing tables (invoices, payments, products, plans, DIDs, vendors) over real HTTP."""

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Api, read_all

# (table, list method, list key, key)
LISTS = [
    ("invoices", "Invoice/get_invoice_list", "invoice_list", "i_invoice"),
    (
        "payments",
        "Payment/get_payment_transaction_list",
        "payment_transaction_list",
        "i_payment_transaction",
    ),
    ("products", "Product/get_product_list", "product_list", "i_product"),
    (
        "subscription_plans",
        "Subscription/get_subscription_list",
        "subscription_list",
        "i_subscription",
    ),
    ("dids", "DID/get_number_list", "number_list", "i_did_number"),
    ("vendors", "Vendor/get_vendor_list", "vendor_list", "i_vendor"),
]
# (info method, key, info key, table)
INFOS = [
    ("Invoice/get_invoice_info", "i_invoice", "invoice_info", "invoices"),
    (
        "Payment/get_payment_transaction_by_id",
        "i_payment_transaction",
        "payment_transaction_info",
        "payments",
    ),
    ("DID/get_number_info", "i_did_number", "number_info", "dids"),
    ("Vendor/get_vendor_info", "i_vendor", "vendor_info", "vendors"),
]


@pytest.mark.parametrize(("table", "method", "list_key", "key"), LISTS)
def test_paging_and_total_agree_with_the_truth(
    api: Api, table: str, method: str, list_key: str, key: str
) -> None:
    rows, totals = read_all(api, method, list_key, 3)
    truth = api.emulator.truth.table(table)
    assert rows == truth
    assert len({row[key] for row in rows}) == len(rows) > 3
    assert totals == {len(truth)}


def test_total_as_string_on_billing_lists(
    make_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    api = make_api(make_emulator(total_as_string=True))
    api.login()
    total = api.call("Invoice/get_invoice_list", {"limit": 1, "get_total": 1})["total"]
    assert total == str(len(api.emulator.truth.table("invoices")))


@pytest.mark.parametrize(("method", "key", "info_key", "table"), INFOS)
def test_info_methods_answer_the_row_or_nothing(
    api: Api, method: str, key: str, info_key: str, table: str
) -> None:
    row = api.emulator.truth.table(table)[-1]
    assert api.call(method, {key: row[key]}) == {info_key: row}
    assert api.call(method, {key: 10**9}) == {}


def test_invoices_span_a_window_before_the_xdrs(emu: Emulator) -> None:
    issued = sorted(date.fromisoformat(row["issue_date"]) for row in emu.truth.table("invoices"))
    start = emu.config.xdr_start
    assert start - timedelta(days=90) <= issued[0] < start - timedelta(days=60)
    assert issued[-1] < start + timedelta(days=emu.config.xdr_days)


def test_invoice_issue_date_filters_include_the_first_day_not_the_last(api: Api) -> None:
    truth = api.emulator.truth.table("invoices")
    days = sorted({row["issue_date"] for row in truth})
    after, before = days[len(days) // 3], days[2 * len(days) // 3]
    params = {"issued_after": after, "issued_before": before}
    rows, totals = read_all(api, "Invoice/get_invoice_list", "invoice_list", 2, **params)
    expected = [row for row in truth if after <= row["issue_date"] < before]
    assert rows == expected
    assert totals == {len(expected)}
    assert after in {row["issue_date"] for row in rows}


def test_invoice_customer_filter_matches_ids_sent_as_text(api: Api) -> None:
    truth = api.emulator.truth.table("invoices")
    texts = [r for r in truth if isinstance(r["i_customer"], str)]
    assert texts, "some records carry the id as a string"
    owner = int(texts[0]["i_customer"])
    rows = api.call("Invoice/get_invoice_list", {"i_customer": owner})["invoice_list"]
    assert rows == [r for r in truth if int(r["i_customer"]) == owner]


def test_invoice_date_filter_shape_is_checked(api: Api) -> None:
    code = api.fault("Invoice/get_invoice_list", {"issued_after": "2023-12-01 00:00:00"})
    assert code == "Client.get_invoice_list.invalid_date"


def test_payment_time_window(api: Api) -> None:
    window = {"from_date": "2023-12-01 00:00:00", "to_date": "2024-01-01 00:00:00"}
    rows = api.call("Payment/get_payment_transaction_list", window)["payment_transaction_list"]
    expected = [
        r
        for r in api.emulator.truth.table("payments")
        if "2023-12-01" <= r["payment_time"] < "2024-01-01"
    ]
    assert rows == expected and expected


def test_payments_settle_what_invoices_say_was_paid(emu: Emulator) -> None:
    completed: dict[int, float] = {}
    for row in emu.truth.table("payments"):
        if row["transaction_status"] == "completed":
            completed[int(row["i_invoice"])] = (
                completed.get(int(row["i_invoice"]), 0) + row["amount"]
            )
    paid = {
        r["i_invoice"]: r["amount_paid"] for r in emu.truth.table("invoices") if r["amount_paid"]
    }
    assert completed == paid


@pytest.mark.parametrize(
    ("params", "test"),
    [
        ({"i_customer": 3}, lambda r: r["i_customer"] == 3),
        ({"i_vendor": 2}, lambda r: r["i_vendor"] == 2),
        ({"usage": "F"}, lambda r: r["i_account"] is None),
        ({"number": "1777%"}, lambda r: r["number"].startswith("1777")),
    ],
)
def test_did_filters(
    api: Api, params: dict[str, Any], test: Callable[[dict[str, Any]], bool]
) -> None:
    rows = api.call("DID/get_number_list", {**params, "get_total": 1})
    expected = [r for r in api.emulator.truth.table("dids") if test(r)]
    assert rows["number_list"] == expected and expected
    assert rows["total"] == len(expected)


def test_dids_are_the_numbers_accounts_list(emu: Emulator) -> None:
    listed = {
        (did["did_number"], account["i_account"])
        for account in emu.truth.accounts()
        for did in account["alias_did_number_list"]
    }
    assigned = {
        (r["number"], int(r["i_account"])) for r in emu.truth.table("dids") if r["i_account"]
    }
    assert assigned == listed


def test_products_are_the_ones_accounts_name(emu: Emulator) -> None:
    products = {r["i_product"]: r["name"] for r in emu.truth.table("products")}
    for account in emu.truth.accounts():
        assert products[account["i_product"]] == account["product_name"]
        for addon in account["assigned_addons"]:
            assert products[addon["i_product"]] == addon["name"]


def _is_money(value: Any) -> bool:
    return isinstance(value, int | float) and round(value, 5) == value


@pytest.mark.parametrize(
    ("table", "shapes"),
    [
        (
            "invoices",
            {
                "i_invoice": int,
                "issue_date": r"\d{4}-\d\d-\d\d",
                "due_date": r"\d{4}-\d\d-\d\d",
                "amount_due": _is_money,
                "amount_net": _is_money,
                "is_void": r"[YN]",
                "iso_4217": r"[A-Z]{3}",
            },
        ),
        ("payments", {"payment_time": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "amount": _is_money}),
        ("vendors", {"blocked": r"[YN]", "creation_date": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"}),
        ("dids", {"number": r"\d+", "frozen": r"[YN]", "periodic_fee": _is_money}),
    ],
)
def test_fields_are_typed_as_portabilling_sends_them(
    emu: Emulator, table: str, shapes: dict[str, Any]
) -> None:
    for row in emu.truth.table(table):
        for name, shape in shapes.items():
            value = row[name]
            if isinstance(shape, str):
                assert isinstance(value, str) and re.fullmatch(shape, value), (name, value)
            elif isinstance(shape, type):
                assert type(value) is shape, (name, value)
            else:
                assert shape(value), (name, value)


def test_some_records_carry_secrets_to_drop(emu: Emulator) -> None:
    assert all(row["password"] for row in emu.truth.table("vendors"))
    assert all(row["payment_token"] for row in emu.truth.table("payments"))


def test_billing_lists_are_deterministic_from_the_seed(
    make_emulator: Callable[..., Emulator],
) -> None:
    first, again, other = make_emulator(), make_emulator(), make_emulator(seed=8)
    assert first.truth.table("invoices") == again.truth.table("invoices")
    assert first.truth.table("invoices") != other.truth.table("invoices")


def test_transient_errors_reach_billing_methods(
    make_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    api = make_api(make_emulator())
    api.login()
    api.emulator.config.transient_error_rate = 1.0
    assert api.post("Invoice/get_invoice_list").status_code in (502, 503, 504)
