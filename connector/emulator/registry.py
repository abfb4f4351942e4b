"""The entity tables every emulator serves; a test adds more with `Emulator(extra_tables=...)`."""

from connector.emulator.billing import INVOICES, PAYMENTS
from connector.emulator.catalog import DIDS, PRODUCTS, SUBSCRIPTIONS, VENDOR_TABLE
from connector.emulator.entity_tables import EntityTable

BUILTIN_TABLES: tuple[EntityTable, ...] = (
    INVOICES,
    PAYMENTS,
    PRODUCTS,
    SUBSCRIPTIONS,
    DIDS,
    VENDOR_TABLE,
)
