"""What a table row must be for an API record, written independently of the converter."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from connector.store.tables import TableSpec, is_json_field

SECRET_WORDS = ("password", "token", "secret")
# Renaming a customer fires no account event, so after event updates accounts keep the
# `customer_name` they were last read with until the next snapshot (README, events).
OWNER_COPIES = frozenset({"customer_name"})


def is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not is_secret(k)}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def expected_value(field: pa.Field, value: Any) -> Any:
    if value is None:
        return None
    kind = field.type
    if is_json_field(field):
        return scrub(value)
    if pa.types.is_int64(kind):
        return int(value)
    if pa.types.is_decimal(kind):
        return Decimal(repr(value)).quantize(Decimal("0.00001"))
    if pa.types.is_date32(kind):
        return date.fromisoformat(value)
    if pa.types.is_timestamp(kind):
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    if pa.types.is_boolean(kind):
        return value in ("Y", 1, "1", True)
    return str(value)


def compared(schema: pa.Schema, ignore: frozenset[str]) -> list[pa.Field]:
    """The columns a comparison looks at: all but `_extracted_at` and `ignore`."""
    return [field for field in schema if field.name not in ignore | {"_extracted_at"}]


def expected_row(
    spec: TableSpec, schema: pa.Schema, record: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The typed row for `record` in a table of `schema` (no secrets, `_extracted_at` left out)."""
    return {
        field.name: expected_value(field, record.get(field.name))
        for field in compared(schema, ignore)
    }


def actual_row(
    schema: pa.Schema, row: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A table row with JSON text parsed, `_extracted_at` left out."""
    return {
        field.name: json.loads(row[field.name])
        if is_json_field(field) and row[field.name] is not None
        else row[field.name]
        for field in compared(schema, ignore)
    }
