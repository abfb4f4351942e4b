"""The emulator driven with the request shapes of a production PortaBilling client.

The client is WebTrit's PortaSwitch adapter (github.com/WebTrit/webtrit_bss_adapter_python, MIT),
read at commit c4fd55ec930e038dcc01955813d085d4a3e1a4a6. Each request below restates the params
one of its methods sends, and each field list the keys its serializer reads, naming the file and
function. It cannot be installed where the tests run (no network), so its shapes are restated.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Api

# app/bss/adapters/portaswitch/api/admin.py, AdminAPI.get_account_list (plus **search_params).
ACCOUNT_LIST = {
    "with_aliases": 1,
    "get_not_closed_accounts": 1,
    "get_only_real_accounts": 1,
    "get_statuses": 1,
    "get_total": 1,
    "limit_alias_did_number_list": 100,
}
# api/admin.py, AdminAPI.get_account_info (plus the lookup key: i_account, id or login).
ACCOUNT_INFO = {"without_service_features": 1, "detailed_info": 1, "get_auth_info": 1}
# api/admin.py, AdminAPI.get_customer_list (branch offices of a main office).
BRANCHES = {
    "skip_exported": 1,
    "check_usage": 0,
    "with_credit_limit_warnings": 0,
    "with_commission_plan": 0,
    "with_bp_charge_cc": 0,
    "i_office_type": 2,
}
# api/admin.py, AdminAPI.get_extensions_list (adapter.py adds get_main_office_extensions: 1 in
# an office hierarchy).
EXTENSIONS = {"detailed_info": 1, "limit_alias_did_number_list": 100}
# api/account.py, AccountAPI.get_xdr_list (page 1 of 50; the admin realm adds i_account).
XDR_LIST = {
    "i_service_type": 3,
    "get_total": 1,
    "show_unsuccessful": 1,
    "limit": 50,
    "offset": 0,
    "from_date": "2024-01-01 00:00:00",
    "to_date": "2024-01-04 00:00:00",
}

# serializer.py, Serializer.get_end_user: keys read with [] (a KeyError if absent).
END_USER_KEYS = (
    "balance",
    "billing_model",
    "iso_4217",
    "id",
    "h323_password",
    "is_active",
    "time_zone_name",
)
# get_end_user / get_contact_info_by_account: keys read with .get that the emulator serves.
ACCOUNT_OPTIONAL_KEYS = (
    "extension_name",
    "extension_id",
    "customer_name",
    "email",
    "firstname",
    "lastname",
    "credit_limit",
    "alias_did_number_list",
)
# serializer.py, Serializer.get_contact_info_by_account: keys read with [].
CONTACT_KEYS = ("i_account", "id", "sip_status")
# serializer.py, Serializer.get_cdr_info, parse_cdr_direction, parse_call_status,
# _call_recording_exist: keys read with [].
CDR_KEYS = (
    "CLI",
    "CLD",
    "unix_connect_time",
    "disconnect_reason",
    "unix_disconnect_time",
    "charged_quantity",
    "i_xdr",
    "bit_flags",
    "disconnect_cause",
    "failed",
)


@pytest.fixture
def webtrit(emu: Emulator, make_api: Callable[[Emulator], Api]) -> Api:
    """An admin session opened as AdminAPI.login opens it: login and API token."""
    client = make_api(emu)
    answer = client.post("Session/login", {"login": emu.login, "token": emu.api_token})
    assert answer.status_code == 200, answer.text
    client.token = answer.json()["access_token"]
    return client


def account_list(client: Api, i_customer: int, **search: Any) -> dict[str, Any]:
    """AdminAPI.get_account_list(i_customer, **search)."""
    return client.call(
        "Account/get_account_list", {"i_customer": i_customer, **ACCOUNT_LIST, **search}
    )


def open_accounts(emu: Emulator, i_customer: int) -> list[dict[str, Any]]:
    return [
        a for a in emu.truth.accounts() if a["i_customer"] == i_customer and a["bill_status"] != "C"
    ]


def test_lookup_by_number_over_every_customer_finds_exactly_that_account(
    emu: Emulator, webtrit: Api
) -> None:
    """adapter.py's number lookup asks each customer of the office for `id=number`."""
    wanted = open_accounts(emu, 3)[2]
    found = {
        a["i_account"]: a
        for customer in range(1, 21)
        for a in account_list(webtrit, customer, id=wanted["id"])["account_list"]
    }
    assert list(found) == [wanted["i_account"]]
    assert found[wanted["i_account"]]["id"] == wanted["id"]


def test_unknown_number_finds_no_account(webtrit: Api) -> None:
    for customer in (1, 2, 3):
        answer = account_list(webtrit, customer, id="15559999999")
        assert answer["account_list"] == []
        assert int(answer["total"]) == 0


def test_closed_accounts_are_not_listed(emu: Emulator, webtrit: Api) -> None:
    closed = next(a for a in emu.truth.accounts() if a["bill_status"] == "C")
    answer = account_list(webtrit, closed["i_customer"], id=closed["id"])
    assert answer == {"account_list": [], "total": 0}


def test_search_by_pattern_returns_matches_and_their_total(emu: Emulator, webtrit: Api) -> None:
    """adapter.py's contact search sends `%text%` for id, firstname, lastname, ...."""
    expected = [a for a in open_accounts(emu, 1) if "a" in a["firstname"].lower()]
    answer = account_list(webtrit, 1, firstname="%A%", limit=1, offset=0)
    assert [a["i_account"] for a in answer["account_list"]] == [expected[0]["i_account"]]
    assert int(answer["total"]) == len(expected) < len(open_accounts(emu, 1))


def test_account_info_by_i_account_id_and_login(emu: Emulator, webtrit: Api) -> None:
    account = emu.truth.accounts()[9]
    answers = [
        webtrit.call("Account/get_account_info", {**ACCOUNT_INFO, name: account[name]})
        for name in ("i_account", "id", "login")
    ]
    assert [a["account_info"]["i_account"] for a in answers] == [account["i_account"]] * 3


@pytest.mark.parametrize("total_as_string", [False, True])
def test_paging_with_total_collects_every_open_account(
    make_emulator: Callable[..., Emulator],
    make_api: Callable[[Emulator], Api],
    total_as_string: bool,
) -> None:
    """adapter.py's _get_all_accounts_by_customer: page 1, int(total), then the other offsets."""
    emu = make_emulator(total_as_string=total_as_string)
    client = make_api(emu)
    client.login()
    first = account_list(client, 2, limit=3, offset=0)
    total = int(first["total"])
    rest = [account_list(client, 2, limit=3, offset=o) for o in range(3, total, 3)]
    listed = first["account_list"] + [a for page in rest for a in page["account_list"]]
    assert [a["i_account"] for a in listed] == [a["i_account"] for a in open_accounts(emu, 2)]
    assert total == len(listed) > 3


def test_every_listed_account_has_what_the_serializer_reads(webtrit: Api) -> None:
    listed = account_list(webtrit, 4)["account_list"]
    assert listed
    for account in listed:
        assert all(key in account for key in (*END_USER_KEYS, *CONTACT_KEYS)), account["i_account"]
        assert account["is_active"] in (0, 1)
        assert account["sip_status"] in (0, 1)
        assert all(isinstance(alias["id"], str) for alias in account["alias_list"])
        assert all(isinstance(did["did_number"], str) for did in account["alias_did_number_list"])
    present = {key for account in listed for key in account}
    assert set(ACCOUNT_OPTIONAL_KEYS) <= present


def test_account_info_has_what_the_end_user_serializer_reads(emu: Emulator, webtrit: Api) -> None:
    for account in emu.truth.accounts()[:20]:
        info = webtrit.call("Account/get_account_info", {**ACCOUNT_INFO, "id": account["id"]})
        assert all(key in info["account_info"] for key in END_USER_KEYS)
        assert isinstance(info["account_info"]["time_zone_name"], str)


def test_every_xdr_has_what_the_cdr_serializer_reads(emu: Emulator, webtrit: Api) -> None:
    i_account = emu.truth.accounts()[0]["i_account"]
    answer = webtrit.call("Account/get_xdr_list", {**XDR_LIST, "i_account": i_account})
    assert answer["xdr_list"]
    assert int(answer["total"]) == len(answer["xdr_list"])
    for xdr in answer["xdr_list"]:
        assert all(key in xdr for key in CDR_KEYS), xdr["i_xdr"]
        connect = datetime.fromtimestamp(int(xdr["unix_connect_time"]), UTC)
        disconnect = datetime.fromtimestamp(int(xdr["unix_disconnect_time"]), UTC)
        assert connect <= disconnect
        assert int(xdr["disconnect_cause"]) > 0
        assert isinstance(xdr["disconnect_reason"], str)
        assert xdr["bit_flags"] & 12 in (0, 4, 8, 12)


def test_branch_offices_of_a_main_office(webtrit: Api) -> None:
    """adapter.py's _get_office_customer_ids: customer_info, then the main office's branches."""
    info = webtrit.call("Customer/get_customer_info", {"i_customer": 12})["customer_info"]
    assert (info["i_office_type"], info["i_main_office"]) == (2, 11)
    main = webtrit.call("Customer/get_customer_info", {"i_customer": 11})["customer_info"]
    assert main["i_office_type"] == 3
    answer = webtrit.call("Customer/get_customer_list", {**BRANCHES, "i_main_customer": 11})
    assert sorted(int(c["i_customer"]) for c in answer["customer_list"]) == [12, 13]


def test_extensions_match_the_accounts_extensions(emu: Emulator, webtrit: Api) -> None:
    answer = webtrit.call("Customer/get_extensions_list", {**EXTENSIONS, "i_customer": 6})
    by_account = {a["i_account"]: a for a in emu.truth.accounts()}
    assert answer["extensions_list"]
    for ext in answer["extensions_list"]:
        assert ext["type"] in ("Account", "Group", "Unassigned")
        account = by_account[int(ext["i_account"])]
        assert (ext["id"], ext["name"]) == (account["extension_id"], account["extension_name"])


def test_hierarchy_extensions_cover_the_branch_offices(emu: Emulator, webtrit: Api) -> None:
    params = {**EXTENSIONS, "i_customer": 11, "get_main_office_extensions": 1}
    answer = webtrit.call("Customer/get_extensions_list", params)
    owners = {a["i_account"]: a["i_customer"] for a in emu.truth.accounts()}
    assert {owners[int(ext["i_account"])] for ext in answer["extensions_list"]} == {11, 12, 13}


def test_alias_list_gives_the_additional_numbers(emu: Emulator, webtrit: Api) -> None:
    """adapter.py's retrieve_user reads alias["id"] of each alias as an additional number."""
    account = next(a for a in emu.truth.accounts() if len(a["alias_did_number_list"]) == 2)
    params = {"i_master_account": account["i_account"]}
    aliases = webtrit.call("Account/get_alias_list", params)["alias_list"]
    assert [alias["id"] for alias in aliases] == [
        did["did_number"] for did in account["alias_did_number_list"]
    ]
