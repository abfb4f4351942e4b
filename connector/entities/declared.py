"""Entities declared in configuration: any paged list method as a table, and columns kept out.

A declared table names its list method, list key and key column, optionally the method's date
filter (then it is read a UTC day at a time, or re-reads a recent window merged by key), and the
types of the columns that need one (money, date, datetime, flag, int, json, text); other fields
the API sends are typed as they arrive, like fields the API adds to a built-in table.
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace

from connector.entities.declaration import Entity, ListMethod, Refresh
from connector.store.tables import (
    Column,
    TableSpec,
    date_col,
    flag_col,
    int_col,
    json_col,
    money_col,
    text_col,
    time_col,
)

COLUMN_TYPES = {
    "int": int_col,
    "money": money_col,
    "date": date_col,
    "datetime": time_col,
    "flag": flag_col,
    "json": json_col,
    "text": text_col,
}


def declared_entity(
    name: str,
    method: ListMethod,
    columns: Mapping[str, str],
    refresh: Refresh,
    description: str | None = None,
) -> Entity:
    """An entity listed by `method`, refreshed as `refresh` says (others need a date filter)."""
    typed = {method.key: "int", **columns}
    return Entity(
        table=TableSpec(name=name, key=method.key, columns=tuple(_columns(method, typed))),
        description=description or f"`{method.service}/{method.method}`, declared in YAML.",
        source=method,
        refresh=refresh,
    )


def _columns(method: ListMethod, typed: Mapping[str, str]) -> list[Column]:
    where = f"{method.service}/{method.method}"
    return [
        COLUMN_TYPES[kind](name, f"`{name}` from {where} ({kind}).") for name, kind in typed.items()
    ]


def without_columns(entity: Entity, names: Sequence[str]) -> Entity:
    """The entity with `names` kept out of its table: dropped like secrets, at every depth."""
    if entity.table.key in names:
        raise ValueError(f"table {entity.name}: the key {entity.table.key} cannot be excluded")
    table = entity.table
    columns = tuple(c for c in table.columns if c.name not in names)
    kept_out = table.secret_fields | frozenset(names)
    return replace(entity, table=replace(table, columns=columns, secret_fields=kept_out))
