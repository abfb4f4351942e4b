"""Generated data: deterministic from the seed, realistic JSON types, secrets present."""

import re
from collections.abc import Callable
from datetime import date

from connector.emulator import Emulator
from tests.emulator.conftest import Api

MakeEmulator = Callable[..., Emulator]
MakeApi = Callable[[Emulator], Api]
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def test_same_seed_same_data(make_emulator: MakeEmulator) -> None:
    first, second = make_emulator(seed=3), make_emulator(seed=3)
    assert first.truth.accounts() == second.truth.accounts()
    assert first.truth.customers() == second.truth.customers()
    assert first.truth.xdrs(date(2024, 1, 2)) == second.truth.xdrs(date(2024, 1, 2))


def test_other_seed_other_data(make_emulator: MakeEmulator) -> None:
    first, second = make_emulator(seed=3), make_emulator(seed=4)
    assert first.truth.accounts() != second.truth.accounts()


def test_sizes_follow_the_config(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(customers=5, accounts=30, xdrs_per_account=4, xdr_days=2)
    xdrs = emu.truth.xdrs(date(2024, 1, 1)) + emu.truth.xdrs(date(2024, 1, 2))
    assert (len(emu.truth.customers()), len(emu.truth.accounts()), len(xdrs)) == (5, 30, 120)
    assert emu.truth.xdrs(date(2024, 1, 3)) == []
    assert len({x["i_xdr"] for x in xdrs}) == 120


def test_account_fields_and_types(emu: Emulator) -> None:
    accounts = emu.truth.accounts()
    for account in accounts:
        assert {"password", "h323_password", "api_token"} <= account.keys()
        assert account["blocked"] in ("Y", "N")
        assert account["bill_status"] in ("O", "I", "C")
        assert (
            isinstance(account["balance"], float)
            and round(account["balance"], 5) == account["balance"]
        )
        assert DATE.match(account["activation_date"])
        assert account["last_usage"] is None or DATETIME.match(account["last_usage"])
        assert isinstance(account["service_features"], list)
        assert isinstance(account["assigned_addons"], list)
        assert account.get("status") != "ok"
    assert any("status" not in a for a in accounts) and any("status" in a for a in accounts)
    assert any(a["credit_limit"] is None for a in accounts)
    assert any("email" not in a for a in accounts) and any("email" in a for a in accounts)
    assert any(not a["firstname"].isascii() for a in accounts)
    assert any(a["service_features"] and a["service_features"][0]["attributes"] for a in accounts)
    assert any(a["assigned_addons"] for a in accounts)


def test_customer_fields_and_types(emu: Emulator) -> None:
    customers = emu.truth.customers()
    assert all("password" in c and DATETIME.match(c["creation_date"]) for c in customers)
    assert any(not c["name"].isascii() for c in customers)


def test_xdr_fields_and_types(emu: Emulator) -> None:
    xdrs = emu.truth.xdrs(date(2024, 1, 1))
    for xdr in xdrs:
        assert xdr["bill_time"].startswith("2024-01-01 ")
        assert DATETIME.match(xdr["connect_time"]) and DATETIME.match(xdr["disconnect_time"])
        assert xdr["failed"] in (0, 1)
        assert xdr["CLI"].isdigit() and xdr["CLD"].isdigit()
    assert {type(x["unix_connect_time"]) for x in xdrs} == {int, str}
    assert {type(x["disconnect_cause"]) for x in xdrs} == {int, str}
    assert any("call_id" not in x for x in xdrs) and any("call_id" in x for x in xdrs)


def test_a_million_accounts_are_servable(make_emulator: MakeEmulator, make_api: MakeApi) -> None:
    api = make_api(make_emulator(accounts=1_000_000, customers=20_000))
    api.login()
    assert api.call("Account/get_account_list", {"limit": 1, "get_total": 1})["total"] == 1_000_000
    last = api.call("Account/get_account_info", {"i_account": 1_000_999})["account_info"]
    assert 1 <= last["i_customer"] <= 20_000
    page = api.call("Account/get_account_list", {"limit": 1000, "offset": 998_000})["account_list"]
    assert len(page) == 1000
