"""`Vendor/get_xdr_list`: per vendor, by billing time, paged, agreeing with the customer xDRs."""

from datetime import date
from typing import Any

from connector.emulator import Emulator
from tests.emulator.conftest import Api, read_all

DAY = {"from_date": "2024-01-02 00:00:00", "to_date": "2024-01-03 00:00:00"}


def _vendor_day(api: Api, i_vendor: int, size: int = 50) -> tuple[list[dict[str, Any]], set[Any]]:
    return read_all(api, "Vendor/get_xdr_list", "xdr_list", size, i_vendor=i_vendor, **DAY)


def test_pages_of_every_vendor_make_up_the_truth_of_the_day(api: Api) -> None:
    rows: list[dict[str, Any]] = []
    for i_vendor in sorted(vendor["i_vendor"] for vendor in api.emulator.truth.table("vendors")):
        page_rows, totals = _vendor_day(api, i_vendor)
        assert totals == {len(page_rows)}
        assert {row["i_vendor"] for row in page_rows} == {i_vendor}
        rows += page_rows
    assert rows == api.emulator.truth.vendor_xdrs(date(2024, 1, 2))
    assert len({row["i_xdr"] for row in rows}) == len(rows)


def test_vendor_xdrs_are_the_customer_calls_at_a_cost(emu: Emulator) -> None:
    calls = {row["i_xdr"]: row for row in emu.truth.xdrs(date(2024, 1, 2))}
    costs = {row["i_xdr"]: row for row in emu.truth.vendor_xdrs(date(2024, 1, 2))}
    assert costs.keys() == calls.keys()
    for i_xdr, cost in costs.items():
        call = calls[i_xdr]
        assert (cost["CLD"], cost["bill_time"]) == (call["CLD"], call["bill_time"])
        assert 0.4 * call["charged_amount"] - 1e-5 <= cost["charged_amount"]
        assert cost["charged_amount"] <= 0.8 * call["charged_amount"] + 1e-5


def test_billing_time_bounds_are_inclusive_then_exclusive(api: Api) -> None:
    rows = api.call("Vendor/get_xdr_list", {"i_vendor": 1, **DAY})["xdr_list"]
    times = [row["bill_time"] for row in rows]
    assert times == sorted(times)
    assert all("2024-01-02 00:00:00" <= time < "2024-01-03 00:00:00" for time in times)


def test_a_vendor_is_required_and_dates_are_checked(api: Api) -> None:
    assert api.fault("Vendor/get_xdr_list", DAY) == "Client.get_xdr_list.invalid_param"
    bad = {"i_vendor": 1, "from_date": "2024-01-02"}
    assert api.fault("Vendor/get_xdr_list", bad) == "Client.get_xdr_list.invalid_date"


def test_an_unknown_vendor_has_no_xdrs(api: Api) -> None:
    answer = api.call("Vendor/get_xdr_list", {"i_vendor": 99, "get_total": 1, **DAY})
    assert answer == {"xdr_list": [], "total": 0}


def test_new_accounts_bring_their_vendor_xdrs(emu: Emulator) -> None:
    before = len(emu.truth.vendor_xdrs(date(2024, 1, 2)))
    emu.create_account(1)
    after = emu.truth.vendor_xdrs(date(2024, 1, 2))
    assert len(after) == len(emu.truth.xdrs(date(2024, 1, 2))) > before
