"""Delta tables: snapshots and days as single commits, MERGE upserts, appends, schema widening."""

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from connector.entities import ACCOUNTS, XDRS
from connector.store.delta import DeltaTables
from connector.store.tables import EVENTS

from .helpers import account, accounts, by_key, column, event, publish, rows

DAY1, DAY2 = "2024-01-01", "2024-01-02"


def xdr(i: int) -> dict[str, object]:
    return {"i_xdr": i, "i_account": 1, "charged_amount": 0.5}


def history_length(tables: DeltaTables, table: str) -> int:
    return len(DeltaTable(tables.table_uri(table)).history())


def test_a_snapshot_is_one_commit(tables):
    publish(tables, ACCOUNTS.table, [[account(1), account(2)]])
    before = history_length(tables, "accounts")

    writer = publish(tables, ACCOUNTS.table, [[account(3)], [account(4)], [account(5)]])

    assert history_length(tables, "accounts") == before + 1
    assert column(tables, "accounts", "i_account") == [3, 4, 5]
    assert writer.rows == 3 and writer.bytes_written > 0
    assert tables.row_count("accounts") == 3


def test_a_failed_writer_commits_nothing(tables):
    publish(tables, ACCOUNTS.table, [[account(1)]])
    version = DeltaTable(tables.table_uri("accounts")).version()

    with pytest.raises(RuntimeError), tables.writer(ACCOUNTS.table) as writer:
        writer.write(accounts(2).to_batches()[0])
        raise RuntimeError("the API went away")

    assert DeltaTable(tables.table_uri("accounts")).version() == version
    assert column(tables, "accounts", "i_account") == [1]


def test_a_partition_overwrite_leaves_other_days(tables):
    publish(tables, XDRS.table, [[xdr(1), xdr(2)]], DAY1)
    publish(tables, XDRS.table, [[xdr(3)]], DAY2)

    publish(tables, XDRS.table, [[xdr(4)]], DAY1)

    assert column(tables, "xdrs", "i_xdr", DAY1) == [4]
    assert column(tables, "xdrs", "i_xdr", DAY2) == [3]
    whole = tables.read("xdrs")
    assert whole is not None and whole.column_names[-1] == "date"
    assert by_key(tables, "xdrs", "i_xdr", "date") == {3: DAY2, 4: DAY1}
    assert tables.row_count("xdrs", DAY1) == 1 and tables.row_count("xdrs") == 2
    assert "date" not in tables.schema("xdrs").names
    assert tables.read("xdrs", "2024-01-03") is None


def test_partition_values_must_be_days(tables):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        tables.writer(XDRS.table, "2024-01-01' OR 'x'='x")


def test_upsert_updates_inserts_and_deletes_in_one_merge(tables):
    publish(tables, ACCOUNTS.table, [[account(1), account(2), account(3)]])
    before = history_length(tables, "accounts")

    change = tables.upsert(ACCOUNTS.table, accounts(2, 4, blocked="Y"), delete_keys=[3, 4])

    assert (change.inserted, change.updated, change.deleted, change.rows) == (0, 1, 1, 2)
    assert change.bytes_written > 0
    assert history_length(tables, "accounts") == before + 1
    assert by_key(tables, "accounts", "i_account", "blocked") == {
        1: False,
        2: True,
    }
    assert "_pb_delete" not in tables.schema("accounts").names


def test_upsert_creates_a_missing_table(tables):
    change = tables.upsert(ACCOUNTS.table, accounts(1, 2))

    assert (change.inserted, change.rows) == (2, 2)
    assert column(tables, "accounts", "i_account") == [1, 2]


def test_upsert_widens_the_schema_with_a_new_api_field(tables):
    publish(tables, ACCOUNTS.table, [[account(1)]])

    tables.upsert(ACCOUNTS.table, rows(ACCOUNTS.table, [account(2, loyalty_tier="gold")]))

    assert "loyalty_tier" in tables.schema("accounts").names
    assert by_key(tables, "accounts", "i_account", "loyalty_tier") == {
        1: None,
        2: "gold",
    }


def test_a_writer_widens_mid_stream_and_keeps_published_columns(tables):
    publish(tables, ACCOUNTS.table, [[account(1, legacy_code="x")]])

    publish(tables, ACCOUNTS.table, [[account(2)], [account(3, loyalty_tier="gold")]])

    schema = tables.schema("accounts")
    assert {"legacy_code", "loyalty_tier"} <= set(schema.names)
    assert by_key(tables, "accounts", "i_account", "loyalty_tier") == {
        2: None,
        3: "gold",
    }


def test_append_partitions_by_the_utc_day_and_dedupe_skips_stored_keys(tables):
    first = rows(EVENTS, [event(1, "2024-01-01 23:59:59"), event(2, "2024-01-02 00:00:00")])
    appended = tables.append(EVENTS, first, "received_at")
    assert (appended.appended, appended.skipped, appended.partitions) == (2, 0, (DAY1, DAY2))

    again = rows(EVENTS, [event(2, "2024-01-02 00:00:00"), event(3, "2024-01-02 08:00:00")])
    retried = tables.append(EVENTS, again, "received_at", dedupe=True)

    assert (retried.appended, retried.skipped) == (1, 1)
    assert retried.bytes_written > 0
    assert column(tables, "events", "i_event") == [1, 2, 3]
    assert column(tables, "events", "i_event", DAY2) == [2, 3]


def test_lookup_finds_rows_by_a_column(tables):
    publish(tables, ACCOUNTS.table, [[account(1), account(2), account(3)]])

    found = tables.lookup("accounts", "i_account", [1, 3, 9])

    assert found is not None and sorted(found["i_account"].to_pylist()) == [1, 3]
    assert tables.lookup("customers", "i_customer", [1]) is None


def test_absent_tables_read_as_none(tables):
    assert tables.read("accounts") is None
    assert tables.schema("accounts") is None
    assert tables.row_count("accounts") == 0


def test_maintain_compacts_and_vacuums_within_the_retention(tmp_path):
    tables = DeltaTables(str(tmp_path), retention_hours=0, storage_options={})
    for key in range(4):
        tables.upsert(ACCOUNTS.table, accounts(key))

    result = tables.maintain("accounts")

    assert result.files_before == 4 and result.files_after == 1
    assert result.files_removed >= 4 and result.bytes_written > 0
    assert column(tables, "accounts", "i_account") == [0, 1, 2, 3]
    on_disk = list((tmp_path / "accounts").glob("*.parquet"))
    assert len(on_disk) == 1


def test_maintain_keeps_files_time_travel_needs_by_default(tables):
    for key in range(3):
        tables.upsert(ACCOUNTS.table, accounts(key))

    result = tables.maintain("accounts")

    assert result.files_removed == 0
    first = DeltaTable(tables.table_uri("accounts"), version=0).to_pyarrow_table()
    assert first["i_account"].to_pylist() == [0]


def test_a_bad_retention_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTABILLING_DELTA_RETENTION_HOURS", "a week")
    with pytest.raises(ValueError, match="PORTABILLING_DELTA_RETENTION_HOURS"):
        DeltaTables(str(tmp_path))


def test_batches_keep_their_types(tables):
    publish(tables, ACCOUNTS.table, [[account(1)]])
    schema = tables.schema("accounts")
    assert schema is not None
    assert schema.field("balance").type == pa.decimal128(24, 5)
    assert schema.field("_extracted_at").type == pa.timestamp("us", tz="UTC")


def test_an_empty_upsert_or_append_commits_nothing(tables):
    tables.upsert(ACCOUNTS.table, accounts(1))
    before = history_length(tables, "accounts")

    assert tables.upsert(ACCOUNTS.table, accounts()).rows == 1
    assert tables.append(EVENTS, rows(EVENTS, []), "received_at").appended == 0

    assert history_length(tables, "accounts") == before
    assert tables.read("events") is None


def test_append_takes_the_utc_day_of_any_time_zone(tables):
    events = rows(EVENTS, [event(1, "2024-01-01 23:30:00")])
    in_kyiv = events.set_column(
        events.schema.get_field_index("received_at"),
        "received_at",
        events["received_at"].cast(pa.timestamp("us", tz="Europe/Kyiv")),
    )

    assert tables.append(EVENTS, in_kyiv, "received_at").partitions == ("2024-01-01",)


def test_a_day_with_a_new_column_widens_the_table_and_keeps_other_days(tables):
    publish(tables, XDRS.table, [[xdr(1)]], DAY1)

    publish(tables, XDRS.table, [[{**xdr(2), "roaming_zone": "EU"}]], DAY2)

    assert "roaming_zone" in tables.schema("xdrs").names
    assert by_key(tables, "xdrs", "i_xdr", "roaming_zone") == {1: None, 2: "EU"}
