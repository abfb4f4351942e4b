"""API records -> typed Arrow record batches, one page at a time.

Columns are built from column lists with one Arrow call each (the fast path); only a column whose
values arrive with mixed Python types (ids as strings, money as text, ...) is normalized value by
value. Fields the schema does not know are kept: their type is inferred once from their first
non-null values and appended to the schema, and `RecordConverter.added_fields` names them.
"""

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from connector.store.secret_names import without_secrets
from connector.store.tables import (
    EXTRACTED_AT,
    MONEY,
    UTC_TIMESTAMP,
    TableSpec,
    is_json_field,
    json_field,
)

JSON_FALLBACK = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY.scale)
TRUE_TEXTS = frozenset({"Y", "YES", "TRUE", "T", "1"})
FALSE_TEXTS = frozenset({"N", "NO", "FALSE", "F", "0"})


class ConversionError(ValueError):
    """A value of a known column cannot be read as the column's type."""


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, compact separators, UTF-8 kept."""
    return canonical_json_bytes(value).decode()


def canonical_json_bytes(value: Any) -> bytes:
    """`canonical_json` as UTF-8 bytes; orjson is ~8x faster than json on nested API values."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # Integers beyond 64 bits or non-string keys: rare; json spells the rest the same way.
        return JSON_FALLBACK.encode(value).encode()


def canonical_json_column(values: list[Any]) -> list[bytes | None]:
    """`canonical_json_bytes` of each value, None kept; one inline pass while orjson can.

    Calling orjson directly rather than through `canonical_json_bytes` halves the cost of a
    1,000-value column (0.55 vs 1.0 ms).
    """
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    try:
        return [None if v is None else dumps(v, option=sort_keys) for v in values]
    except TypeError:  # orjson.JSONEncodeError is one: fall back value by value
        return [None if v is None else canonical_json_bytes(v) for v in values]


def table_schema(spec: TableSpec, base_schema: pa.Schema | None = None) -> pa.Schema:
    """The spec's schema widened by a previous table's extra non-secret columns.

    The spec wins on a type clash; ``_extracted_at`` stays the last column.
    """
    if base_schema is None:
        return spec.schema
    extra = [f for f in base_schema if not spec.is_secret(f.name)]
    return widened(spec.schema, [f for f in extra if f.name not in spec.schema.names])


def widened(schema: pa.Schema, fields: Iterable[pa.Field]) -> pa.Schema:
    """`schema` with `fields` added just before ``_extracted_at`` (or at the end)."""
    for field in fields:
        position = schema.get_field_index(EXTRACTED_AT)
        schema = schema.insert(position if position >= 0 else len(schema), field)
    return schema


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with the columns of `schema`, in its order: missing ones null, others cast."""
    if batch.schema.equals(schema):
        return batch
    columns = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        column = pa.nulls(batch.num_rows, field.type) if index < 0 else batch.column(index)
        columns.append(column if column.type == field.type else _cast(column, field))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _cast(column: pa.Array, field: pa.Field) -> pa.Array:
    try:
        return pc.cast(column, field.type)
    except ARROW_ERRORS as exc:
        raise ConversionError(
            f"column {field.name!r}: cannot store as {field.type}: {exc}"
        ) from None


def _normalized(values: list[Any], parse: Callable[[Any], Any], name: str) -> list[Any]:
    """Values parsed one by one; None and empty text become null."""
    try:
        return [None if v is None or v == "" else parse(v) for v in values]
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ConversionError(f"column {name!r}: {exc}") from None


def _int_value(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(value.strip() if isinstance(value, str) else value)


def to_int64(values: list[Any], name: str) -> pa.Array:
    """int64 column; ids arriving as strings or integral floats are accepted."""
    try:
        return pa.array(values, pa.int64())
    except ARROW_ERRORS:
        return pa.array(_normalized(values, _int_value, name), pa.int64())


def to_float64(values: list[Any], name: str) -> pa.Array:
    """float64 column (only for fields inferred at run time)."""
    try:
        return pa.array(values, pa.float64())
    except ARROW_ERRORS:
        return pa.array(_normalized(values, float, name), pa.float64())


def _money_value(value: Any) -> Decimal:
    # repr of a float is the shortest text that reads back as it: the decimal the API sent.
    text = repr(value) if isinstance(value, float) else str(value).strip()
    return Decimal(text).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def money_from_arrow(raw: pa.Array, money: pa.DataType = MONEY) -> pa.Array:
    """Exact decimals from numbers or text: floats go through their shortest text."""
    if pa.types.is_floating(raw.type):
        raw = pc.cast(raw, pa.string())
    return pc.cast(raw, money)


def to_money(values: list[Any], name: str, money: pa.DataType = MONEY) -> pa.Array:
    """Exact decimal column: floats go through their shortest text, never through binary."""
    if any(type(v) is bool for v in values):  # Arrow would read true as 1 next to numbers
        raise ConversionError(f"column {name!r}: true/false is not an amount")
    try:
        return money_from_arrow(pa.array(values), money)
    except ARROW_ERRORS:
        pass
    try:
        decimals = _normalized(values, _money_value, name)
        return pa.array(decimals, money)
    except (InvalidOperation, *ARROW_ERRORS) as exc:
        raise ConversionError(f"column {name!r}: not an amount: {exc}") from None


def _date_value(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_date(values: list[Any], name: str) -> pa.Array:
    """date32 column from ``YYYY-MM-DD`` text."""
    try:
        return pc.cast(pa.array(values, pa.string()), pa.date32())
    except ARROW_ERRORS:
        return pa.array(_normalized(values, _date_value, name), pa.date32())


def _timestamp_value(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def timestamps_from_text(texts: pa.Array, ts_type: pa.DataType = UTC_TIMESTAMP) -> pa.Array:
    """UTC timestamps from zone-less ``YYYY-MM-DD HH:MM:SS`` text."""
    return pc.cast(texts, pa.timestamp(ts_type.unit)).cast(ts_type)


def to_timestamp(values: list[Any], name: str, ts_type: pa.DataType = UTC_TIMESTAMP) -> pa.Array:
    """UTC timestamp column; API datetimes carry no zone and are UTC."""
    try:
        return timestamps_from_text(pa.array(values, pa.string()), ts_type)
    except ARROW_ERRORS:
        return pa.array(_normalized(values, _timestamp_value, name), ts_type)


def _flag_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    raise ValueError(f"{value!r} is not a Y/N or 0/1 flag")


def to_flag(values: list[Any], name: str) -> pa.Array:
    """bool column from ``"Y"``/``"N"``, 0/1 or booleans."""
    for attempt in (_bool_from_bools, _bool_from_texts, _bool_from_bits):
        try:
            return attempt(values)
        except (*ARROW_ERRORS, ValueError):
            continue
    return pa.array(_normalized(values, _flag_value, name), pa.bool_())


def _bool_from_bools(values: list[Any]) -> pa.Array:
    return pa.array(values, pa.bool_())


def _bool_from_texts(values: list[Any]) -> pa.Array:
    return flags_from_text(pa.array(values, pa.string()))


def flags_from_text(raw: pa.Array) -> pa.Array:
    """bool column from text flags, vectorized: ``Y``/``N`` and friends."""
    is_yes = pc.equal(raw, "Y")
    if pc.sum(pc.or_(is_yes, pc.equal(raw, "N"))).as_py() == len(raw) - raw.null_count:
        return is_yes  # PortaBilling's own spelling: no trimming or case folding needed
    texts = pc.utf8_upper(pc.utf8_trim_whitespace(raw))
    truthy = pc.is_in(texts, pa.array(sorted(TRUE_TEXTS)))
    falsy = pc.is_in(texts, pa.array(sorted(FALSE_TEXTS)))
    if pc.sum(pc.or_(truthy, falsy)).as_py() != len(texts) - texts.null_count:
        raise ValueError("not a text flag")
    return pc.if_else(pc.is_valid(texts), truthy, pa.scalar(None, pa.bool_()))


def _bool_from_bits(values: list[Any]) -> pa.Array:
    return flags_from_bits(pa.array(values, pa.int64()))


def flags_from_bits(bits: pa.Array) -> pa.Array:
    """bool column from integers that are all 0 or 1."""
    bounds = pc.min_max(bits)
    if (bounds["min"].as_py() or 0) < 0 or (bounds["max"].as_py() or 0) > 1:
        raise ValueError("not a 0/1 flag")
    return pc.not_equal(bits, 0)


def _text_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return canonical_json(value)
    return repr(value) if isinstance(value, float) else str(value)


def to_text(values: list[Any], name: str) -> pa.Array:
    """string column; numbers arriving in it keep their text."""
    try:
        return pa.array(values, pa.string())
    except ARROW_ERRORS:
        pass
    try:
        return pc.cast(pa.array(values, pa.int64()), pa.string())
    except ARROW_ERRORS:
        return pa.array([None if v is None else _text_value(v) for v in values], pa.string())


def infer_field(name: str, values: Iterable[Any]) -> pa.Field | None:
    """The column type of an unknown field, from its non-null values (None while all are null)."""
    kinds = {_kind_of(v) for v in values if v is not None}
    if not kinds:
        return None
    if kinds == {"json"}:
        return json_field(name)
    if kinds <= {"int", "float"}:
        return pa.field(name, pa.float64() if "float" in kinds else pa.int64())
    simple = {"bool": pa.bool_(), "str": pa.string()}
    return pa.field(name, simple[kinds.pop()] if len(kinds) == 1 else pa.string())


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict | list):
        return "json"
    return "str"


class RecordConverter:
    """Turns pages of API records into record batches of one table's (possibly widened) schema."""

    def __init__(self, spec: TableSpec, base_schema: pa.Schema | None = None) -> None:
        self.spec = spec
        self.schema: pa.Schema = table_schema(spec, base_schema)
        self._may_hold_secret = _marker_search(spec.secret_markers)
        self.added_fields: list[str] = []

    def to_batch(self, records: list[dict[str, Any]], extracted_at: datetime) -> pa.RecordBatch:
        """One record batch of the current schema; unknown fields widen it first."""
        self._widen(records)
        stamp = pa.scalar(_as_utc(extracted_at), UTC_TIMESTAMP)
        scalars = self._scalar_columns(records)
        columns = [
            pa.repeat(stamp, len(records))
            if name == EXTRACTED_AT
            else self._json_column(_gather(records, name))
            if is_json_field(field)
            else scalars[name]
            for field, name in zip(self.schema, self.schema.names, strict=True)
        ]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _scalar_columns(self, records: list[dict[str, Any]]) -> dict[str, pa.Array]:
        """The non-JSON columns: one Arrow pass over the page, or column by column if it balks.

        The single pass reads every scalar field at once into a struct of the types the values
        arrive in (`raw_type`), then converts each child with the same vectorized step the column
        path takes first; any value that pass refuses sends the whole page down the column path,
        so both give the same table.
        """
        fields = [f for f in self.schema if f.name != EXTRACTED_AT and not is_json_field(f)]
        raw_fields = [pa.field(f.name, raw_type(f, _first_value(records, f.name))) for f in fields]
        try:
            if _money_holds_a_bool(records, fields):
                raise ValueError("a bool where an amount belongs: the column path refuses it")
            children = pa.array(records, pa.struct(raw_fields)).flatten()
            return {f.name: from_raw(f, raw) for f, raw in zip(fields, children, strict=True)}
        except (*ARROW_ERRORS, ValueError):
            return {f.name: convert_column(f, _gather(records, f.name)) for f in fields}

    def _json_column(self, values: list[Any]) -> pa.Array:
        """JSON text of nested values; one scan of the page decides if secrets need removing."""
        encoded = canonical_json_column(values)
        if self._may_hold_secret(b"".join(filter(None, encoded))):
            is_secret = self.spec.is_secret
            encoded = canonical_json_column([without_secrets(v, is_secret) for v in values])
        # JSON text from orjson (or json, encoded from str) is valid UTF-8: no check needed.
        return pa.array(encoded, pa.binary()).view(pa.string())

    def _widen(self, records: list[dict[str, Any]]) -> None:
        unknown = set().union(*records) - set(self.schema.names)
        for name in sorted(unknown):
            # A field seen only as nulls waits for a value to tell its type.
            field = None if self.spec.is_secret(name) else infer_field(name, _values(records, name))
            if field is None:
                continue
            self.schema = widened(self.schema, [field])
            self.added_fields.append(name)


CONVERTERS: dict[pa.DataType, Callable[[list[Any], str], pa.Array]] = {
    pa.int64(): to_int64,
    pa.float64(): to_float64,
    pa.bool_(): to_flag,
    pa.string(): to_text,
    pa.date32(): to_date,
}


def convert_column(field: pa.Field, values: list[Any]) -> pa.Array:
    """One typed column from raw API values."""
    if pa.types.is_decimal(field.type):
        return to_money(values, field.name, field.type)
    if pa.types.is_timestamp(field.type):
        return to_timestamp(values, field.name, field.type)
    convert = CONVERTERS.get(field.type)
    if convert is None:
        raise ConversionError(f"column {field.name!r}: unsupported type {field.type}")
    return convert(values, field.name)


def raw_type(field: pa.Field, sample: Any) -> pa.DataType:
    """The Arrow type a column's values arrive as, judged from one non-null value (or None)."""
    if pa.types.is_decimal(field.type):
        return pa.string() if isinstance(sample, str) else pa.float64()
    if pa.types.is_boolean(field.type):
        if isinstance(sample, bool) or sample is None:
            return pa.bool_()
        return pa.string() if isinstance(sample, str) else pa.int64()
    if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
        return pa.string()
    return field.type


def from_raw(field: pa.Field, raw: pa.Array) -> pa.Array:
    """A column of `field`'s type from values read as `raw_type` (the column path's first step)."""
    if pa.types.is_decimal(field.type):
        return money_from_arrow(raw, field.type)
    if pa.types.is_timestamp(field.type):
        return timestamps_from_text(raw, field.type)
    if pa.types.is_date(field.type):
        return pc.cast(raw, field.type)
    if pa.types.is_boolean(field.type) and not pa.types.is_boolean(raw.type):
        return flags_from_text(raw) if pa.types.is_string(raw.type) else flags_from_bits(raw)
    return raw


def _marker_search(markers: Iterable[str]) -> Callable[[bytes], bool]:
    """A fast test for JSON text that could hold a secret-named key (false hits are harmless)."""
    encoded = tuple(marker.encode() for marker in markers)

    def may_hold_secret(text: bytes) -> bool:
        lowered = text.lower()
        return any(marker in lowered for marker in encoded)

    return may_hold_secret


def _gather(records: list[dict[str, Any]], name: str) -> list[Any]:
    """One column's raw values (None where a record lacks the key)."""
    return [r.get(name) for r in records]


def _money_holds_a_bool(records: list[dict[str, Any]], fields: list[pa.Field]) -> bool:
    """Whether a money field of the page holds a JSON true/false (the column path refuses it)."""
    money = [f.name for f in fields if pa.types.is_decimal(f.type)]
    return any(type(r.get(name)) is bool for name in money for r in records)


def _first_value(records: list[dict[str, Any]], name: str) -> Any:
    """The first non-null value of a field in a page (None if it has none)."""
    return next((v for v in _values(records, name) if v is not None), None)


def _values(records: list[dict[str, Any]], name: str) -> Iterable[Any]:
    return (r.get(name) for r in records)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("extracted_at must be timezone-aware (UTC)")
    return moment.astimezone(UTC)
