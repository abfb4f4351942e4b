"""What we extract: one declarative `TableSpec` per table (API method, key, typed schema, secrets).

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

Adding an entity means adding one `TableSpec` below and registering it in `TABLES`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from connector.store.secret_names import COMMON_SECRETS, looks_secret, secret_markers

EXTRACTED_AT = "_extracted_at"
JSON_METADATA = {b"portabilling.encoding": b"json"}

MONEY = pa.decimal128(24, 5)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def int_col(name: str) -> pa.Field:
    """An int64 column (ids, counts, codes)."""
    return pa.field(name, pa.int64())


def money_col(name: str) -> pa.Field:
    """An exact decimal column for an amount of money."""
    return pa.field(name, MONEY)


def text_col(name: str) -> pa.Field:
    """A string column; numbers arriving in it are kept as their text."""
    return pa.field(name, pa.string())


def date_col(name: str) -> pa.Field:
    """A calendar date column (``YYYY-MM-DD``)."""
    return pa.field(name, pa.date32())


def time_col(name: str) -> pa.Field:
    """A UTC timestamp column (``YYYY-MM-DD HH:MM:SS``)."""
    return pa.field(name, UTC_TIMESTAMP)


def flag_col(name: str) -> pa.Field:
    """A bool column fed by ``"Y"``/``"N"`` or 0/1 values."""
    return pa.field(name, pa.bool_())


def json_col(name: str) -> pa.Field:
    """A nested list/object column stored as canonical JSON text."""
    return pa.field(name, pa.string(), metadata=JSON_METADATA)


def is_json_field(field: pa.Field) -> bool:
    """Whether a column holds nested values encoded as JSON text."""
    return bool(field.metadata) and field.metadata.get(b"portabilling.encoding") == b"json"


def extracted_at_col() -> pa.Field:
    """The run's extraction time, the last column of every table."""
    return pa.field(EXTRACTED_AT, UTC_TIMESTAMP)


@dataclass(frozen=True)
class TableSpec:
    """One extracted table: where its rows come from and the typed columns they land in."""

    name: str
    key: str
    schema: pa.Schema
    service: str | None = None
    list_method: str | None = None
    list_key: str | None = None
    info_method: str | None = None
    info_key: str | None = None
    secret_fields: frozenset[str] = COMMON_SECRETS

    def __post_init__(self) -> None:
        leaked = [name for name in self.schema.names if self.is_secret(name)]
        if leaked:
            raise ValueError(f"table {self.name}: secret fields in the schema: {leaked}")
        if self.key not in self.schema.names:
            raise ValueError(f"table {self.name}: key {self.key!r} is not a column")

    def is_secret(self, name: str) -> bool:
        """Whether a field must be dropped before anything is written."""
        return name in self.secret_fields or looks_secret(name)

    @property
    def secret_markers(self) -> tuple[str, ...]:
        """Lower-case texts that every secret field name contains (to skip clean values fast)."""
        return secret_markers(self.secret_fields)


def schema_of(*fields: pa.Field) -> pa.Schema:
    """A table schema: the given columns followed by ``_extracted_at``."""
    return pa.schema([*fields, extracted_at_col()])


CUSTOMERS = TableSpec(
    name="customers",
    key="i_customer",
    schema=schema_of(
        int_col("i_customer"),
        text_col("name"),
        text_col("email"),
        text_col("login"),
        money_col("balance"),
        money_col("credit_limit"),
        text_col("iso_4217"),
        flag_col("blocked"),
        text_col("bill_status"),
        text_col("status"),
        time_col("creation_date"),
        int_col("i_customer_type"),
        int_col("i_office_type"),
        int_col("i_main_office"),
    ),
    service="Customer",
    list_method="get_customer_list",
    list_key="customer_list",
    info_method="get_customer_info",
    info_key="customer_info",
)

ACCOUNTS = TableSpec(
    name="accounts",
    key="i_account",
    schema=schema_of(
        int_col("i_account"),
        int_col("i_customer"),
        int_col("i_product"),
        int_col("i_master_account"),
        text_col("id"),
        text_col("login"),
        text_col("product_name"),
        text_col("iso_4217"),
        money_col("balance"),
        money_col("opening_balance"),
        money_col("credit_limit"),
        flag_col("blocked"),
        text_col("bill_status"),
        text_col("status"),
        flag_col("is_active"),
        int_col("billing_model"),
        date_col("activation_date"),
        date_col("expiration_date"),
        date_col("issue_date"),
        time_col("last_usage"),
        text_col("firstname"),
        text_col("lastname"),
        text_col("email"),
        text_col("customer_name"),
        text_col("time_zone_name"),
        int_col("sip_status"),
        text_col("extension_id"),
        text_col("extension_name"),
        json_col("alias_did_number_list"),
        json_col("service_features"),
        json_col("assigned_addons"),
        json_col("included_services"),
    ),
    service="Account",
    list_method="get_account_list",
    list_key="account_list",
    info_method="get_account_info",
    info_key="account_info",
)

XDRS = TableSpec(
    name="xdrs",
    key="i_xdr",
    schema=schema_of(
        int_col("i_xdr"),
        int_col("i_account"),
        text_col("CLI"),
        text_col("CLD"),
        time_col("connect_time"),
        time_col("disconnect_time"),
        time_col("bill_time"),
        int_col("unix_connect_time"),
        int_col("unix_disconnect_time"),
        money_col("charged_amount"),
        int_col("charged_quantity"),
        text_col("disconnect_cause"),
        text_col("disconnect_reason"),
        flag_col("failed"),
        int_col("bit_flags"),
        text_col("call_id"),
        text_col("description"),
    ),
    service="Customer",
    list_method="get_customer_xdrs",
    list_key="xdr_list",
)

EVENTS = TableSpec(
    name="events",
    key="i_event",
    schema=schema_of(
        int_col("i_event"),
        text_col("event_type"),
        int_col("i_account"),
        int_col("i_customer"),
        json_col("variables"),
        time_col("received_at"),
    ),
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in (CUSTOMERS, ACCOUNTS, XDRS, EVENTS)}


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
