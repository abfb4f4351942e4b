"""Every data method over real HTTP, checked against the emulator's ground truth."""

from datetime import date

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def test_account_list_pages_cover_truth_in_order(emu: Emulator, api: Api) -> None:
    first = api.call("Account/get_account_list", {"limit": 150, "offset": 0, "get_total": 1})
    second = api.call("Account/get_account_list", {"limit": 150, "offset": 150})
    assert first["total"] == 200
    assert "total" not in second
    assert first["account_list"] + second["account_list"] == emu.truth.accounts()


def test_account_list_order_is_not_by_key(api: Api) -> None:
    keys = [
        a["i_account"] for a in api.call("Account/get_account_list", {"limit": 50})["account_list"]
    ]
    assert keys != sorted(keys)


def test_account_list_filters_by_customer_and_bill_status(emu: Emulator, api: Api) -> None:
    answer = api.call(
        "Account/get_account_list", {"i_customer": 3, "bill_status": "O", "get_total": 1}
    )
    expected = [a for a in emu.truth.accounts() if a["i_customer"] == 3 and a["bill_status"] == "O"]
    assert answer["account_list"] == expected
    assert answer["total"] == len(expected) > 0


def test_account_info_by_key_id_and_login(emu: Emulator, api: Api) -> None:
    account = emu.truth.accounts()[5]
    by_key = api.call("Account/get_account_info", {"i_account": account["i_account"]})
    by_id = api.call("Account/get_account_info", {"id": account["id"]})
    by_login = api.call("Account/get_account_info", {"login": account["login"]})
    assert by_key == by_id == by_login == {"account_info": account}


def test_account_info_follows_a_changed_id(emu: Emulator, api: Api) -> None:
    old_id = emu.truth.accounts()[0]["id"]
    emu.update_account(emu.truth.accounts()[0]["i_account"], id="renamed-1")
    assert api.call("Account/get_account_info", {"id": old_id}) == {}
    assert (
        api.call("Account/get_account_info", {"id": "renamed-1"})["account_info"]["id"]
        == "renamed-1"
    )
    assert api.call("Account/get_account_info", {"id": "nonsense"}) == {}


def test_missing_account_answers_200_without_info(api: Api) -> None:
    assert api.call("Account/get_account_info", {"i_account": 99_999_999}) == {}


def test_account_xdr_list_filters_on_bill_time(emu: Emulator, api: Api) -> None:
    day = date(2024, 1, 2)
    account = emu.truth.xdrs(day)[0]["i_account"]
    params = {
        "i_account": account,
        "from_date": "2024-01-02 00:00:00",
        "to_date": "2024-01-03 00:00:00",
    }
    answer = api.call("Account/get_xdr_list", {**params, "get_total": 1})
    expected = [x for x in emu.truth.xdrs(day) if x["i_account"] == account]
    assert answer["xdr_list"] == expected
    assert answer["total"] == len(expected)


def test_customer_list_and_info(emu: Emulator, api: Api) -> None:
    answer = api.call("Customer/get_customer_list", {"limit": 100, "get_total": 1})
    assert answer["customer_list"] == emu.truth.customers()
    assert answer["total"] == 20
    customer = emu.truth.customers()[0]
    assert api.call("Customer/get_customer_info", {"i_customer": customer["i_customer"]}) == {
        "customer_info": customer
    }


def test_customer_xdrs_pages_match_truth_for_the_day(emu: Emulator, api: Api) -> None:
    day = date(2024, 1, 1)
    owners = {a["i_account"]: a["i_customer"] for a in emu.truth.accounts()}
    expected = [x for x in emu.truth.xdrs(day) if owners[x["i_account"]] == 2]
    window = {"i_customer": 2, "from_date": "2024-01-01 00:00:00", "to_date": "2024-01-02 00:00:00"}
    got: list[dict[str, object]] = []
    while page := api.call(
        "Customer/get_customer_xdrs", {**window, "limit": 7, "offset": len(got)}
    )["xdr_list"]:
        got += page
    assert sorted(got, key=lambda x: x["i_xdr"]) == sorted(expected, key=lambda x: x["i_xdr"])
    assert len(got) == len(expected) > 7


def test_customer_xdrs_outside_the_window_are_empty(api: Api) -> None:
    window = {"i_customer": 2, "from_date": "2030-01-01 00:00:00", "to_date": "2030-01-02 00:00:00"}
    assert api.call("Customer/get_customer_xdrs", {**window, "get_total": 1}) == {
        "xdr_list": [],
        "total": 0,
    }


def test_to_date_is_exclusive(emu: Emulator, api: Api) -> None:
    xdr = emu.truth.xdrs(date(2024, 1, 2))[0]
    bill = xdr["bill_time"]
    params = {"i_account": xdr["i_account"], "from_date": "2024-01-01 00:00:00", "to_date": bill}
    assert xdr not in api.call("Account/get_xdr_list", params)["xdr_list"]
    params["to_date"] = "2024-01-04 00:00:00"
    params["from_date"] = bill
    assert xdr in api.call("Account/get_xdr_list", params)["xdr_list"]
