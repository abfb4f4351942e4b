"""In-process mutations change what the API serves and record ESPF events."""

import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def test_update_account_is_served_and_recorded(emu: Emulator, api: Api) -> None:
    emu.update_account(1000, balance=12.34567, blocked="Y")
    info = api.call("Account/get_account_info", {"i_account": 1000})["account_info"]
    assert (info["balance"], info["blocked"]) == (12.34567, "Y")
    assert emu.events == [
        {"event_type": "Subscriber/Updated", "variables": {"i_event": 1, "i_account": 1000}}
    ]


def test_create_account_appears_in_list_and_customer_filter(emu: Emulator, api: Api) -> None:
    created = emu.create_account(3, firstname="Neue")
    listed = api.call("Account/get_account_list", {"i_customer": 3})["account_list"]
    assert created in listed
    assert created["firstname"] == "Neue"
    assert api.call("Account/get_account_list", {"get_total": 1, "limit": 0})["total"] == 201
    assert emu.events[-1]["event_type"] == "Subscriber/Created"


def test_delete_account_disappears(emu: Emulator, api: Api) -> None:
    emu.delete_account(1001)
    assert api.call("Account/get_account_info", {"i_account": 1001}) == {}
    assert 1001 not in {a["i_account"] for a in emu.truth.accounts()}
    assert emu.events[-1] == {
        "event_type": "Subscriber/Deleted",
        "variables": {"i_event": 1, "i_account": 1001},
    }


def test_moving_an_account_moves_its_xdrs(emu: Emulator, api: Api) -> None:
    emu.update_account(1002, i_customer=7)
    window = {"i_customer": 7, "from_date": "2024-01-01 00:00:00", "to_date": "2024-01-04 00:00:00"}
    xdrs = api.call("Customer/get_customer_xdrs", window)["xdr_list"]
    assert sum(x["i_account"] == 1002 for x in xdrs) == 10


def test_customer_mutations(emu: Emulator, api: Api) -> None:
    created = emu.create_customer(name="Nouveau Client")
    emu.update_customer(created["i_customer"], balance=1.5)
    emu.delete_customer(2)
    assert (
        api.call("Customer/get_customer_info", {"i_customer": created["i_customer"]})[
            "customer_info"
        ]["balance"]
        == 1.5
    )
    assert api.call("Customer/get_customer_info", {"i_customer": 2}) == {}
    assert [e["event_type"] for e in emu.events] == [
        "Customer/Created",
        "Customer/Updated",
        "Customer/Deleted",
    ]
    assert [e["variables"]["i_event"] for e in emu.events] == [1, 2, 3]


def test_mutating_a_missing_entity_raises(emu: Emulator) -> None:
    with pytest.raises(KeyError):
        emu.update_account(5, balance=1)
    with pytest.raises(KeyError):
        emu.create_account(9999)
    with pytest.raises(ValueError, match="bill_status"):
        emu.update_account(1000, bill_status="X")
