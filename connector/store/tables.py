"""The Parquet side of a table: its key, typed and described columns, and the secrets it drops.

Where a table's rows come from is its entity's business (`connector.entities`).

Column types follow the contract; `connector.store.arrowio` converts API records to them:

- integer ids and counts -> int64 (strings such as ``"1000889"`` are accepted);
- money -> ``decimal128(24, 5)``, exact (``0.1`` becomes ``Decimal("0.10000")``);
- ``YYYY-MM-DD`` -> date32; ``YYYY-MM-DD HH:MM:SS`` (UTC) -> ``timestamp("us", tz="UTC")``;
- ``"Y"``/``"N"`` flags and 0/1 flags (``is_active``, ``failed``) -> bool, because both are
  yes/no facts and a bool column is what a data team filters on;
- nested lists/objects -> JSON text (sorted keys, compact separators, UTF-8 kept: what
  ``json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, except that
  floats in exponent form drop the padding zero: ``1e-5``), one stable string type whatever the
  content, because the nested shapes differ between releases and records. Secret-named keys are
  removed at every depth first. Such columns carry the field metadata ``JSON_METADATA`` so the
  kind survives in the Parquet schema;
- every table ends with ``_extracted_at`` (UTC timestamp of the fetch, the same for a whole run).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from connector.store.secret_names import COMMON_SECRETS, looks_secret, secret_markers

EXTRACTED_AT = "_extracted_at"
JSON_METADATA = {b"portabilling.encoding": b"json"}

MONEY = pa.decimal128(24, 5)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    """One typed column of a table and what it holds, in one line (shown in Dagster's UI)."""

    field: pa.Field
    description: str

    @property
    def name(self) -> str:
        return str(self.field.name)


def int_col(name: str, description: str) -> Column:
    """An int64 column (ids, counts, codes)."""
    return Column(pa.field(name, pa.int64()), description)


def money_col(name: str, description: str) -> Column:
    """An exact decimal column for an amount of money."""
    return Column(pa.field(name, MONEY), description)


def text_col(name: str, description: str) -> Column:
    """A string column; numbers arriving in it are kept as their text."""
    return Column(pa.field(name, pa.string()), description)


def date_col(name: str, description: str) -> Column:
    """A calendar date column (``YYYY-MM-DD``)."""
    return Column(pa.field(name, pa.date32()), description)


def time_col(name: str, description: str) -> Column:
    """A UTC timestamp column (``YYYY-MM-DD HH:MM:SS``)."""
    return Column(pa.field(name, UTC_TIMESTAMP), description)


def flag_col(name: str, description: str) -> Column:
    """A bool column fed by ``"Y"``/``"N"`` or 0/1 values."""
    return Column(pa.field(name, pa.bool_()), description)


def json_col(name: str, description: str) -> Column:
    """A nested list/object column stored as canonical JSON text."""
    return Column(json_field(name), description)


def json_field(name: str) -> pa.Field:
    """The Arrow field of a nested list/object column (also for fields the API adds)."""
    return pa.field(name, pa.string(), metadata=JSON_METADATA)


def is_json_field(field: pa.Field) -> bool:
    """Whether a column holds nested values encoded as JSON text."""
    return bool(field.metadata) and field.metadata.get(b"portabilling.encoding") == b"json"


EXTRACTED_AT_COL = time_col(
    EXTRACTED_AT, "When this row was fetched (UTC; the same for a whole run)."
)


@dataclass(frozen=True)
class TableSpec:
    """One Parquet table: its key, its typed columns (``_extracted_at`` last) and its secrets."""

    name: str
    key: str
    columns: tuple[Column, ...]
    secret_fields: frozenset[str] = COMMON_SECRETS
    schema: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        every = (*self.columns, EXTRACTED_AT_COL)
        object.__setattr__(self, "schema", pa.schema([c.field for c in every]))
        leaked = [name for name in self.schema.names if self.is_secret(name)]
        if leaked:
            raise ValueError(f"table {self.name}: secret fields in the schema: {leaked}")
        if self.key not in self.schema.names:
            raise ValueError(f"table {self.name}: key {self.key!r} is not a column")
        undescribed = [c.name for c in self.columns if not c.description.strip()]
        if undescribed:
            raise ValueError(f"table {self.name}: columns without a description: {undescribed}")

    @property
    def descriptions(self) -> dict[str, str]:
        """Each declared column's one-line description, by name."""
        return {c.name: c.description for c in (*self.columns, EXTRACTED_AT_COL)}

    def is_secret(self, name: str) -> bool:
        """Whether a field must be dropped before anything is written."""
        return name in self.secret_fields or looks_secret(name)

    @property
    def secret_markers(self) -> tuple[str, ...]:
        """Lower-case texts that every secret field name contains (to skip clean values fast)."""
        return secret_markers(self.secret_fields)


EVENTS = TableSpec(
    name="events",
    key="i_event",
    columns=(
        int_col("i_event", "ESPF's id of the event (one row per event)."),
        text_col("event_type", "ESPF event type, e.g. `Subscriber/Updated`."),
        int_col("i_account", "The account the event names, if any."),
        int_col("i_customer", "The customer the event names, if any."),
        json_col("variables", "Every variable of the delivery, secrets dropped (JSON)."),
        time_col("received_at", "When the receiver stored the event (UTC)."),
    ),
)


def event_record(
    event_type: str, variables: Mapping[str, Any], received_at: datetime | str
) -> dict[str, Any]:
    """The `EVENTS` record of one ESPF delivery (ids may be strings; the converter types them)."""
    return {
        "i_event": variables.get("i_event"),
        "event_type": event_type,
        "i_account": variables.get("i_account"),
        "i_customer": variables.get("i_customer"),
        "variables": dict(variables),
        "received_at": received_at,
    }
