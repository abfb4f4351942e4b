"""The fields and methods that tie accounts, customers, aliases and extensions together."""

from datetime import UTC, date, datetime

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def test_customer_name_is_the_owners_name_and_follows_a_rename(emu: Emulator, api: Api) -> None:
    names = {c["i_customer"]: c["name"] for c in emu.truth.customers()}
    assert all(a["customer_name"] == names[a["i_customer"]] for a in emu.truth.accounts())
    owner = emu.truth.accounts()[0]["i_customer"]
    emu.update_customer(owner, name="Renamed Ltd")
    listed = api.call("Account/get_account_list", {"i_customer": owner})["account_list"]
    assert {a["customer_name"] for a in listed} == {"Renamed Ltd"}


def test_alias_list_matches_the_accounts_alias_dids(emu: Emulator, api: Api) -> None:
    with_aliases = [a for a in emu.truth.accounts() if a["alias_did_number_list"]]
    assert 0 < len(with_aliases) < 200
    for account in with_aliases[:5]:
        answer = api.call("Account/get_alias_list", {"i_master_account": account["i_account"]})
        aliases = answer["alias_list"]
        assert [a["id"] for a in aliases] == [
            d["did_number"] for d in account["alias_did_number_list"]
        ]
        assert {a["i_master_account"] for a in aliases} == {account["i_account"]}
        assert not {a["i_account"] for a in aliases} & {
            x["i_account"] for x in emu.truth.accounts()
        }


def test_account_list_with_aliases_carries_each_accounts_alias_list(
    emu: Emulator, api: Api
) -> None:
    listed = api.call("Account/get_account_list", {"with_aliases": 1})["account_list"]
    for account in listed:
        expected = api.call("Account/get_alias_list", {"i_master_account": account["i_account"]})
        assert account.pop("alias_list") == expected["alias_list"]
    assert listed == emu.truth.accounts()
    assert "alias_list" not in api.call("Account/get_account_list", {"limit": 1})["account_list"][0]


def test_alias_list_of_an_account_without_aliases_or_unknown_is_empty(
    emu: Emulator, api: Api
) -> None:
    plain = next(a for a in emu.truth.accounts() if not a["alias_did_number_list"])
    params = {"i_master_account": plain["i_account"], "get_total": 1}
    assert api.call("Account/get_alias_list", params) == {"alias_list": [], "total": 0}
    assert api.call("Account/get_alias_list", {"i_master_account": 1}) == {"alias_list": []}


def test_alias_list_needs_its_account(api: Api) -> None:
    assert api.fault("Account/get_alias_list", {}) == "Client.get_alias_list.invalid_param"


def test_extensions_list_holds_the_customers_accounts_with_an_extension(
    emu: Emulator, api: Api
) -> None:
    owned = [a for a in emu.truth.accounts() if a["i_customer"] == 5]
    expected = [a for a in owned if "extension_id" in a]
    answer = api.call("Customer/get_extensions_list", {"i_customer": 5, "get_total": 1})
    entries = answer["extensions_list"]
    assert [(e["i_account"], e["id"], e["name"]) for e in entries] == [
        (a["i_account"], a["extension_id"], a["extension_name"]) for a in expected
    ]
    assert answer["total"] == len(expected) < len(owned)
    assert {e["type"] for e in entries} == {"Account"}


def test_main_office_extensions_add_its_branches_ones(emu: Emulator, api: Api) -> None:
    def extension_owners(params: dict[str, int]) -> list[int]:
        answer = api.call("Customer/get_extensions_list", params)["extensions_list"]
        return [owners[e["i_account"]] for e in answer]

    owners = {a["i_account"]: a["i_customer"] for a in emu.truth.accounts()}
    alone = extension_owners({"i_customer": 11})
    combined = extension_owners({"i_customer": 11, "get_main_office_extensions": 1})
    assert set(alone) == {11}
    assert combined[: len(alone)] == alone
    assert set(combined[len(alone) :]) == {12, 13}


def test_extensions_of_an_unknown_customer_are_none(api: Api) -> None:
    assert api.call("Customer/get_extensions_list", {"i_customer": 999}) == {"extensions_list": []}


def test_extension_ids_are_unique(emu: Emulator) -> None:
    ids = [a["extension_id"] for a in emu.truth.accounts() if "extension_id" in a]
    assert len(ids) == len(set(ids)) > 100


def test_branches_point_at_a_main_office(emu: Emulator) -> None:
    offices = {c["i_customer"]: c for c in emu.truth.customers()}
    branches = [c for c in offices.values() if c["i_office_type"] == 2]
    assert branches
    assert all(offices[c["i_main_office"]]["i_office_type"] == 3 for c in branches)
    assert all("i_main_office" not in c for c in offices.values() if c["i_office_type"] != 2)


def test_xdr_disconnect_fields_agree_with_its_times(emu: Emulator) -> None:
    for xdr in emu.truth.xdrs(date(2024, 1, 2))[:200]:
        end = datetime.fromtimestamp(int(xdr["unix_disconnect_time"]), UTC)
        assert end.strftime("%Y-%m-%d %H:%M:%S") == xdr["disconnect_time"]
        assert (
            int(xdr["unix_disconnect_time"]) - int(xdr["unix_connect_time"])
            == xdr["charged_quantity"]
        )
        assert xdr["disconnect_reason"]
