"""The entity tables every emulator serves; a test adds more with `Emulator(extra_tables=...)`."""

from connector.emulator.entity_tables import EntityTable

BUILTIN_TABLES: tuple[EntityTable, ...] = ()
