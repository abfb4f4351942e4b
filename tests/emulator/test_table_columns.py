"""Every field the emulator sends has a typed column, so runs against it never widen a schema."""

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from connector.emulator import Emulator
from connector.entities import ACCOUNTS, CUSTOMERS, XDRS
from connector.store.tables import TableSpec

READS: dict[str, Callable[[Emulator], list[dict[str, Any]]]] = {
    "accounts": lambda emu: emu.truth.accounts(),
    "customers": lambda emu: emu.truth.customers(),
    "xdrs": lambda emu: emu.truth.xdrs(date(2024, 1, 2)),
}


@pytest.mark.parametrize(
    "spec", [ACCOUNTS.table, CUSTOMERS.table, XDRS.table], ids=lambda spec: spec.name
)
def test_every_field_sent_is_a_column_or_a_secret(emu: Emulator, spec: TableSpec) -> None:
    sent = {name for record in READS[spec.name](emu) for name in record}
    kept = {name for name in sent if not spec.is_secret(name)}
    assert kept <= set(spec.schema.names), sorted(kept - set(spec.schema.names))
