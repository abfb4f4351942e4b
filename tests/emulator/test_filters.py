"""List filters over real HTTP: applied before paging, so pages and `total` agree with the truth."""

from typing import Any

import pytest

from connector.emulator import Emulator
from connector.emulator.filters import Like
from tests.emulator.conftest import Api


def accounts(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int]:
    answer = api.call("Account/get_account_list", {**params, "get_total": 1})
    return answer["account_list"], answer["total"]


def customers(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int]:
    answer = api.call("Customer/get_customer_list", {**params, "get_total": 1})
    return answer["customer_list"], answer["total"]


def test_id_finds_exactly_that_account(emu: Emulator, api: Api) -> None:
    wanted = emu.truth.accounts()[17]
    assert accounts(api, id=wanted["id"]) == ([wanted], 1)


def test_unknown_id_matches_nothing(api: Api) -> None:
    assert accounts(api, id="no-such-number") == ([], 0)
    assert accounts(api, id="15550000001") == ([], 0)


def test_id_pattern_selects_numbers_in_list_order_before_paging(emu: Emulator, api: Api) -> None:
    expected = [a for a in emu.truth.accounts() if a["id"].endswith("7")]
    page, total = accounts(api, id="%7", limit=5, offset=3)
    assert page == expected[3:8]
    assert total == len(expected) == 20


def test_firstname_pattern_is_case_insensitive(emu: Emulator, api: Api) -> None:
    expected = [a for a in emu.truth.accounts() if "ann" in a["firstname"].lower()]
    assert accounts(api, firstname="%aNN%") == (expected, len(expected))
    assert 0 < len(expected) < 200


def test_firstname_and_lastname_combine(emu: Emulator, api: Api) -> None:
    expected = [
        a for a in emu.truth.accounts() if a["firstname"] == "Anna" and a["lastname"] == "Smith"
    ]
    assert accounts(api, firstname="Anna", lastname="Smi%") == (expected, len(expected))
    assert expected


def test_extension_name_and_email_patterns(emu: Emulator, api: Api) -> None:
    truth = emu.truth.accounts()
    named = [a for a in truth if "søren" in a.get("extension_name", "").lower()]
    mailed = [a for a in truth if a.get("email", "").endswith("7@example.com")]
    assert accounts(api, extension_name="%Søren%") == (named, len(named))
    assert accounts(api, email="%7@example.com") == (mailed, len(mailed))
    assert named and mailed
    assert any("extension_name" not in a and a["firstname"] == "Søren" for a in truth)


def test_login_is_exact(emu: Emulator, api: Api) -> None:
    wanted = emu.truth.accounts()[3]
    assert accounts(api, login=wanted["login"]) == ([wanted], 1)
    assert accounts(api, login=wanted["login"] + "0") == ([], 0)


def test_not_closed_accounts_leave_out_closed_ones(emu: Emulator, api: Api) -> None:
    expected = [a for a in emu.truth.accounts() if a["bill_status"] != "C"]
    page, total = accounts(api, get_not_closed_accounts=1)
    assert (page, total) == (expected, len(expected))
    assert total < len(emu.truth.accounts())


def test_unknown_bill_status_and_customer_match_nothing(api: Api) -> None:
    assert accounts(api, bill_status="X") == ([], 0)
    assert accounts(api, i_customer=999_999) == ([], 0)


def test_customer_filter_and_pattern_page_together(emu: Emulator, api: Api) -> None:
    owned = [a for a in emu.truth.accounts() if a["i_customer"] == 4]
    expected = [a for a in owned if "1" in a["id"][8:]]
    first, total = accounts(api, i_customer=4, id="15550001%1%", limit=2)
    rest, _ = accounts(api, i_customer=4, id="15550001%1%", offset=2)
    assert first + rest == expected
    assert len(owned) > total == len(expected) > 2


def test_a_changed_id_is_found_by_its_new_value_only(emu: Emulator, api: Api) -> None:
    account = emu.truth.accounts()[0]
    emu.update_account(account["i_account"], id="renamed-7", firstname="Zed")
    assert accounts(api, id=account["id"]) == ([], 0)
    assert [a["i_account"] for a in accounts(api, id="renamed-%")[0]] == [account["i_account"]]
    assert [a["i_account"] for a in accounts(api, firstname="zed")[0]] == [account["i_account"]]


def test_customer_name_pattern(emu: Emulator, api: Api) -> None:
    expected = [c for c in emu.truth.customers() if "süd" in c["name"].lower()]
    assert customers(api, name="%SÜD%") == (expected, len(expected))
    assert expected


def test_customers_of_a_main_office_are_its_branches(emu: Emulator, api: Api) -> None:
    expected = [c for c in emu.truth.customers() if c.get("i_main_office") == 11]
    assert customers(api, i_main_customer=11, i_office_type=2) == (expected, len(expected))
    assert sorted(c["i_customer"] for c in expected) == [12, 13]


def test_customer_office_type_filter_pages(emu: Emulator, api: Api) -> None:
    expected = [c for c in emu.truth.customers() if c["i_office_type"] == 1]
    page, total = customers(api, i_office_type=1, limit=3, offset=1)
    assert page == expected[1:4]
    assert total == len(expected) == 14


def test_unknown_main_office_matches_nothing(api: Api) -> None:
    assert customers(api, i_main_customer=999) == ([], 0)


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("15550001234", "15550001234", True),
        ("1555%", "15550001234", True),
        ("%1234", "15550001234", True),
        ("%123", "15550001234", False),
        ("acct_", "acct7", True),
        ("acct_", "acct77", False),
        ("100\\%", "100%", True),
        ("100\\%", "1000", False),
        ("ANNA", "anna", True),
        ("%", None, False),
    ],
)
def test_like_patterns(pattern: str, value: str | None, matches: bool) -> None:
    assert Like(pattern).matches(value) is matches
