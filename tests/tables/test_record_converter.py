"""RecordConverter: API records become typed Arrow batches of the contract's types."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from connector.entities import ACCOUNTS, CUSTOMERS, XDRS
from connector.store.arrowio import ConversionError, RecordConverter, canonical_json
from connector.store.tables import EVENTS, event_record, is_json_field

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def convert(spec, records, base_schema=None):
    converter = RecordConverter(spec, base_schema=base_schema)
    return converter, converter.to_batch(records, NOW)


def column(spec, field, values):
    """One converted column of `spec` from the given raw values."""
    _, batch = convert(spec, [{spec.key: i + 1, field: v} for i, v in enumerate(values)])
    return batch.column(field).to_pylist()


@pytest.mark.parametrize(
    ("raw", "exact"),
    [
        (0.1, "0.10000"),
        (1e-5, "0.00001"),
        (12345678.12345, "12345678.12345"),
        (-0.3, "-0.30000"),
        (-5000.00001, "-5000.00001"),
        (0, "0.00000"),
        (7, "7.00000"),
        (123.00000000000001, "123.00000"),  # float noise from arithmetic rounds away
        ("12.5", "12.50000"),
        ("-0.00001", "-0.00001"),
    ],
)
def test_money_is_the_exact_decimal_the_api_sent(raw, exact):
    assert column(ACCOUNTS.table, "balance", [raw]) == [Decimal(exact)]


def test_money_column_mixing_numbers_text_and_nulls():
    values = column(ACCOUNTS.table, "credit_limit", [0.1, "2.5", None, 3])
    assert values == [Decimal("0.10000"), Decimal("2.50000"), None, Decimal("3.00000")]


def test_money_type_is_decimal_24_5():
    _, batch = convert(ACCOUNTS.table, [{"i_account": 1, "balance": 0.1}])
    assert batch.schema.field("balance").type == pa.decimal128(24, 5)


def test_money_integers_beyond_float_precision_stay_exact():
    assert column(ACCOUNTS.table, "balance", [2**53 + 1]) == [Decimal(2**53 + 1)]


@pytest.mark.parametrize("values", [[True], [1.5, False], ["2.5", True]])
def test_a_bool_where_an_amount_belongs_is_an_error(values):
    with pytest.raises(ConversionError, match="balance"):
        column(ACCOUNTS.table, "balance", values)


def _full_account(i: int) -> dict:
    return {
        "i_account": 1000 + i,
        "i_customer": i % 7,
        "id": f"1555000{i}",
        "balance": -22.06285 + i,
        "credit_limit": 100,
        "blocked": "Y" if i % 2 else "N",
        "is_active": i % 2,
        "activation_date": "2023-06-17",
        "last_usage": None if i % 3 else "2024-01-01 17:02:36",
        "lastname": "Dvo\u0159\u00e1k",
        "assigned_addons": [{"i_product": i, "name": f"pack {i}"}],
        "password": "pw",
    }


def test_a_page_with_one_odd_value_converts_like_a_clean_page():
    """One string id or money text sends a page down the column path: same table either way."""
    clean = [_full_account(i) for i in range(50)]
    odd = [dict(r) for r in clean]
    odd[10]["i_account"], odd[20]["balance"] = str(odd[10]["i_account"]), str(odd[20]["balance"])
    odd[30]["is_active"] = "1" if odd[30]["is_active"] else "0"
    assert convert(ACCOUNTS.table, odd)[1].equals(convert(ACCOUNTS.table, clean)[1])


def test_flag_type_is_read_from_the_first_value_that_is_not_null():
    assert column(ACCOUNTS.table, "blocked", [None, "Y", "n"]) == [None, True, False]
    assert column(ACCOUNTS.table, "is_active", [None, 1, 0]) == [None, True, False]


def test_ids_arriving_as_strings_become_int64():
    assert column(ACCOUNTS.table, "i_customer", ["1000889", 5, None, " 7 "]) == [
        1000889,
        5,
        None,
        7,
    ]


def test_key_column_is_int64_even_when_all_strings():
    _, batch = convert(ACCOUNTS.table, [{"i_account": "1001"}, {"i_account": "1002"}])
    assert batch.column("i_account").type == pa.int64()
    assert batch.column("i_account").to_pylist() == [1001, 1002]


def test_unix_connect_time_sometimes_a_string():
    assert column(XDRS.table, "unix_connect_time", [1704067200, "1704067201"]) == [
        1704067200,
        1704067201,
    ]


def test_dates_and_utc_timestamps():
    _, batch = convert(
        ACCOUNTS.table,
        [
            {"i_account": 1, "activation_date": "2023-12-31", "last_usage": "2024-01-02 03:04:05"},
            {"i_account": 2, "activation_date": None, "last_usage": None},
        ],
    )
    assert batch.column("activation_date").to_pylist() == [date(2023, 12, 31), None]
    assert batch.schema.field("last_usage").type == pa.timestamp("us", tz="UTC")
    assert batch.column("last_usage")[0].as_py() == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_timestamp_with_an_offset_is_converted_to_utc():
    values = column(ACCOUNTS.table, "last_usage", ["2024-01-02T05:04:05+02:00", ""])
    assert values == [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None]


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("blocked", ["Y", "N", None], [True, False, None]),
        ("blocked", ["y", " n "], [True, False]),
        ("is_active", [1, 0, None], [True, False, None]),
        ("is_active", [True, False], [True, False]),
        ("is_active", ["1", 0, "N"], [True, False, False]),
    ],
)
def test_flags_become_bools(field, raw, expected):
    assert column(ACCOUNTS.table, field, raw) == expected


def test_failed_xdr_flag_is_bool():
    assert column(XDRS.table, "failed", [0, 1]) == [False, True]


def test_a_flag_that_is_not_yes_or_no_is_an_error():
    with pytest.raises(ConversionError, match="blocked"):
        column(ACCOUNTS.table, "blocked", ["Y", "maybe"])


def test_an_id_that_is_not_a_number_is_an_error():
    with pytest.raises(ConversionError, match="i_customer"):
        column(ACCOUNTS.table, "i_customer", ["12", "twelve"])


def test_text_column_keeps_numbers_as_their_text():
    assert column(XDRS.table, "disconnect_cause", [16, "31", None]) == ["16", "31", None]


def test_nested_values_become_canonical_json_text():
    features = [{"name": "x", "attributes": [{"b": 1, "a": "é"}]}]
    _, batch = convert(ACCOUNTS.table, [{"i_account": 1, "service_features": features}])
    text = batch.column("service_features")[0].as_py()
    assert text == '[{"attributes":[{"a":"é","b":1}],"name":"x"}]'
    assert is_json_field(batch.schema.field("service_features"))


def test_json_text_is_stable_whatever_the_key_order():
    one = {"b": [1, 2], "a": {"y": None, "x": True}}
    other = {"a": {"x": True, "y": None}, "b": [1, 2]}
    assert column(ACCOUNTS.table, "assigned_addons", [one, other]) == [canonical_json(one)] * 2


def test_canonical_json_matches_json_dumps_for_api_values():
    import json

    value = {"z": [1, None, True, "ü"], "a": {"n": 12.5, "m": "x"}}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


def test_a_nested_integer_beyond_64_bits_keeps_its_digits():
    # orjson refuses it: the column falls back to json value by value, with the same spelling.
    features = [{"name": "x", "limit": 2**70}, None]
    big = column(ACCOUNTS.table, "service_features", [features, [{"b": 1}]])
    assert big == ['[{"limit":1180591620717411303424,"name":"x"},null]', '[{"b":1}]']


def test_missing_keys_become_nulls():
    _, batch = convert(ACCOUNTS.table, [{"i_account": 1}, {"i_account": 2, "status": "blocked"}])
    assert batch.column("status").to_pylist() == [None, "blocked"]
    assert batch.column("balance").to_pylist() == [None, None]
    assert batch.schema == ACCOUNTS.table.schema


def test_every_row_gets_the_run_extraction_time():
    _, batch = convert(ACCOUNTS.table, [{"i_account": 1}, {"i_account": 2}])
    assert batch.schema.names[-1] == "_extracted_at"
    assert set(batch.column("_extracted_at").to_pylist()) == {NOW}


def test_extraction_time_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone"):
        RecordConverter(ACCOUNTS.table).to_batch([{"i_account": 1}], datetime(2024, 1, 1))


def test_empty_page_gives_an_empty_batch_of_the_schema():
    _, batch = convert(CUSTOMERS.table, [])
    assert batch.num_rows == 0 and batch.schema == CUSTOMERS.table.schema


@pytest.mark.parametrize(
    ("values", "expected_type"),
    [
        ([1, 2], pa.int64()),
        ([1, 2.5], pa.float64()),
        ([True, False], pa.bool_()),
        (["a", "b"], pa.string()),
        ([{"a": 1}, [1]], pa.string()),
        ([1, "a"], pa.string()),
    ],
)
def test_unknown_field_is_kept_with_an_inferred_type(values, expected_type):
    records = [{"i_account": i, "brand_new": v} for i, v in enumerate(values)]
    converter, batch = convert(ACCOUNTS.table, records)
    assert converter.added_fields == ["brand_new"]
    assert batch.schema.field("brand_new").type == expected_type
    assert batch.schema.names[-2:] == ["brand_new", "_extracted_at"]


def test_unknown_nested_field_is_json_and_mixed_field_is_text():
    records = [{"i_account": 1, "nested": {"b": 1}, "mixed": 5}, {"i_account": 2, "mixed": "x"}]
    _, batch = convert(ACCOUNTS.table, records)
    assert batch.column("nested").to_pylist() == ['{"b":1}', None]
    assert batch.column("mixed").to_pylist() == ["5", "x"]


def test_unknown_field_waits_for_a_value_then_keeps_its_type():
    converter = RecordConverter(ACCOUNTS.table)
    first = converter.to_batch([{"i_account": 1, "later": None}], NOW)
    assert "later" not in first.schema.names and converter.added_fields == []
    second = converter.to_batch([{"i_account": 2, "later": "7"}], NOW)
    third = converter.to_batch([{"i_account": 3}], NOW)
    assert second.column("later").to_pylist() == ["7"]
    assert third.schema == second.schema and third.column("later").to_pylist() == [None]
    assert converter.added_fields == ["later"]


def test_base_schema_keeps_a_column_from_an_earlier_run():
    earlier, _ = convert(ACCOUNTS.table, [{"i_account": 1, "brand_new": 3}])
    converter, batch = convert(ACCOUNTS.table, [{"i_account": 2}], base_schema=earlier.schema)
    assert batch.schema == earlier.schema
    assert batch.column("brand_new").to_pylist() == [None]
    assert converter.added_fields == []


def test_spec_type_wins_over_a_base_schema_clash():
    base = pa.schema([pa.field("balance", pa.float64()), pa.field("extra", pa.int64())])
    converter = RecordConverter(ACCOUNTS.table, base_schema=base)
    assert converter.schema.field("balance").type == pa.decimal128(24, 5)
    assert converter.schema.names[-2:] == ["extra", "_extracted_at"]


def test_known_and_name_matched_secrets_are_dropped():
    record = {
        "i_account": 1,
        "password": "hunter2-pw",
        "h323_password": "h323-pw",
        "api_token": "tok-123",
        "SecretAnswer": "blue",
        "refresh_Token": "rt-1",
        "session_id": "sess-1",
    }
    converter, batch = convert(ACCOUNTS.table, [record])
    assert converter.added_fields == []
    assert not set(record) - {"i_account"} & set(batch.schema.names)


def test_secrets_inside_nested_values_are_dropped_at_any_depth():
    features = [{"name": "sip", "attributes": [{"password": "deep-pw", "value": 1}]}]
    addons = {"outer": {"auth": {"API_TOKEN": "deep-tok", "kept": "ok"}}}
    _, batch = convert(
        ACCOUNTS.table, [{"i_account": 1, "service_features": features, "extra_nested": addons}]
    )
    texts = batch.column("service_features").to_pylist() + batch.column("extra_nested").to_pylist()
    assert texts == [
        '[{"attributes":[{"value":1}],"name":"sip"}]',
        '{"outer":{"auth":{"kept":"ok"}}}',
    ]


def test_secret_words_in_values_do_not_lose_data():
    features = [{"name": "token ring", "note": "no password here"}]
    assert column(ACCOUNTS.table, "service_features", [features]) == [canonical_json(features)]


def test_spec_rejects_a_secret_column():
    from connector.store.tables import TableSpec, text_col

    with pytest.raises(ValueError, match="secret"):
        TableSpec(name="t", key="id", columns=(text_col("id", "Id."), text_col("my_password", "?")))


def test_spec_rejects_a_column_without_a_description():
    from connector.store.tables import TableSpec, text_col

    with pytest.raises(ValueError, match="without a description: \\['name'\\]"):
        TableSpec(name="t", key="id", columns=(text_col("id", "Id."), text_col("name", " ")))


def test_event_record_types_ids_and_keeps_variables_as_json():
    record = event_record(
        "Subscriber/Updated", {"i_event": "17", "i_account": "1003"}, "2024-01-01 00:00:01"
    )
    _, batch = convert(EVENTS, [record])
    row = batch.to_pylist()[0]
    assert (row["i_event"], row["i_account"], row["i_customer"]) == (17, 1003, None)
    assert row["variables"] == '{"i_account":"1003","i_event":"17"}'
    assert row["received_at"] == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_schemas_cover_every_field_the_emulator_emits(make_emulator):
    emulator = make_emulator(customers=5, accounts=60, xdrs_per_account=3, xdr_days=1)
    pages = [
        (ACCOUNTS.table, emulator.truth.accounts()),
        (CUSTOMERS.table, emulator.truth.customers()),
        (XDRS.table, emulator.truth.xdrs(date(2024, 1, 1))),
    ]
    for spec, records in pages:
        converter, batch = convert(spec, records)
        assert records and batch.num_rows == len(records)
        assert converter.added_fields == [], spec.name
        assert not any(spec.is_secret(name) for name in batch.schema.names)
