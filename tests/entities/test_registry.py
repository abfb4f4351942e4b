"""The registry: what it refuses, the event routing and the lineage it gives the definitions."""

import dataclasses
from collections.abc import Callable

import pytest

from connector.api.client import PortaBillingClient
from connector.api.errors import ConfigurationError
from connector.dagster_defs.assets import asset_key
from connector.dagster_defs.project import build_defs, window_days
from connector.emulator import Emulator
from connector.entities import (
    ACCOUNTS,
    BUILT_IN,
    CUSTOMERS,
    XDRS,
    EventRoute,
    FullSnapshot,
    LookupRead,
    RecentWindow,
    Registry,
)
from connector.events import Route
from tests.conftest import legacy_for


def test_the_routing_names_each_groups_entity_and_id_variable() -> None:
    assert BUILT_IN.routing() == {
        "Subscriber": (Route("accounts", "i_account"),),
        "Account": (Route("accounts", "i_account"),),
        "Customer": (Route("customers", "i_customer"),),
        "Invoice": (Route("customers", "i_customer"), Route("invoices", "i_invoice")),
        "DID": (Route("dids", "number", is_text=True),),
    }


def test_two_entities_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two entities named accounts"):
        Registry([CUSTOMERS, ACCOUNTS, ACCOUNTS])


def test_a_fan_out_over_a_missing_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="no listed entity customers"):
        Registry([ACCOUNTS, XDRS])


def test_an_event_group_naming_one_entity_twice_is_refused() -> None:
    twice = (EventRoute("Customer", "i_customer"), EventRoute("Customer", "i_customer"))
    with pytest.raises(ValueError, match="event group Customer names customers twice"):
        Registry([dataclasses.replace(CUSTOMERS, events=twice)])


def test_an_event_naming_an_entity_by_no_column_is_refused() -> None:
    with pytest.raises(ValueError, match=r"events name it by \['i_subscriber'\], not columns"):
        dataclasses.replace(ACCOUNTS, events=(EventRoute("Subscriber", "i_subscriber"),))


def test_an_entity_named_by_events_must_be_rereadable() -> None:
    with pytest.raises(ValueError, match="nothing re-reads it"):
        dataclasses.replace(ACCOUNTS, reread=None)


def test_lineage_and_column_descriptions_are_on_the_asset_specs() -> None:
    defs = build_defs({})
    [xdrs] = defs.resolve_assets_def(asset_key("xdrs")).specs
    [accounts] = defs.resolve_assets_def(asset_key("accounts")).specs
    assert [dep.asset_key for dep in xdrs.deps] == [asset_key("customers")]
    assert [dep.asset_key for dep in accounts.deps] == [asset_key("events")]
    columns = {c.name: c.description for c in xdrs.metadata["dagster/column_schema"].columns}
    assert columns["bill_time"] == XDRS.table.descriptions["bill_time"]


def test_a_lookup_reads_an_entity_by_another_field(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(customers=3, accounts=30)
    wanted = emu.truth.accounts()[17]
    lookup = LookupRead("id", ACCOUNTS.list_method)
    with PortaBillingClient(
        emu.url, login=emu.login, password=emu.password, legacy=legacy_for(emu)
    ) as client:
        found = lookup.fetch(client.call, wanted["id"])
        missing = lookup.fetch(client.call, "no such id")
    assert found is not None and found["i_account"] == wanted["i_account"]
    assert missing is None


def test_a_fan_out_is_read_a_day_at_a_time() -> None:
    with pytest.raises(ValueError, match="a day at a time"):
        dataclasses.replace(XDRS, refresh=FullSnapshot())


def test_vendor_xdrs_are_read_through_vendors() -> None:
    [vendor_xdrs] = build_defs({}).resolve_assets_def(asset_key("vendor_xdrs")).specs
    assert [dep.asset_key for dep in vendor_xdrs.deps] == [asset_key("vendors")]


def test_the_invoice_window_is_sized_by_the_environment() -> None:
    sized = BUILT_IN.with_window_days({"invoices": 7})
    assert sized["invoices"].refresh == RecentWindow(7, "PORTABILLING_INVOICE_WINDOW_DAYS")
    assert window_days({"PORTABILLING_INVOICE_WINDOW_DAYS": "7"}, BUILT_IN) == {"invoices": 7}
    assert window_days({}, BUILT_IN) == {}


def test_a_malformed_invoice_window_fails_loading_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="PORTABILLING_INVOICE_WINDOW_DAYS"):
        build_defs({"PORTABILLING_INVOICE_WINDOW_DAYS": "soon"})
