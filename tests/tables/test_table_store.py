"""TableStore: streaming Parquet writes, atomic publish, widening, upsert, fsspec roots."""

import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from connector.entities import ACCOUNTS, XDRS
from connector.store.arrowio import RecordConverter
from connector.store.storage import TableStore
from connector.store.tables import EVENTS, event_record

from .helpers import NOW, account, publish, table_files


def xdr(i: int, **fields: object) -> dict[str, object]:
    return {"i_xdr": i, "i_account": 1, "charged_amount": 0.01 * i, "failed": 0, **fields}


def test_published_table_is_one_zstd_file_with_row_groups_of_bounded_size(tmp_path):
    store = TableStore(str(tmp_path), row_group_rows=2)
    writer, _ = publish(store, ACCOUNTS.table, [[account(1)], [account(2)], [account(3)]])
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
    metadata = pq.ParquetFile(tmp_path / "accounts" / "part-00000.parquet").metadata
    assert metadata.num_row_groups == 2
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert writer.rows == 3
    assert writer.bytes_written == (tmp_path / "accounts" / "part-00000.parquet").stat().st_size


def test_read_back_keeps_the_contract_types(store):
    publish(store, ACCOUNTS.table, [[account(1, activation_date="2024-01-02")]])
    row = store.read("accounts").to_pylist()[0]
    assert row["balance"] == Decimal("0.10000")
    assert row["activation_date"] == date(2024, 1, 2)
    assert row["_extracted_at"] == NOW
    assert store.schema("accounts").field("balance").type == pa.decimal128(24, 5)


def test_never_published_table_reads_as_none(store):
    assert store.read("accounts") is None and store.schema("accounts") is None


def test_empty_run_publishes_an_empty_table_with_the_schema(store):
    publish(store, ACCOUNTS.table, [])
    table = store.read("accounts")
    assert table.num_rows == 0 and table.schema.names == ACCOUNTS.table.schema.names


def test_secrets_never_reach_the_file_bytes(store, tmp_path):
    nested = [{"name": "sip", "password": "nested-secret-pw"}]
    records = [
        account(i, h323_password="h323-secret", api_token="tok-secret", service_features=nested)
        for i in range(1, 50)
    ]
    publish(store, ACCOUNTS.table, [records])
    raw = (tmp_path / "accounts" / "part-00000.parquet").read_bytes()
    for secret in (b"pw-1", b"h323-secret", b"tok-secret", b"nested-secret-pw", b"password"):
        assert secret not in raw


def test_a_failing_run_leaves_the_previous_file_byte_identical(store, tmp_path):
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    path = tmp_path / "accounts" / "part-00000.parquet"
    before = path.read_bytes()
    with pytest.raises(RuntimeError), store.writer(ACCOUNTS.table) as writer:
        converter = RecordConverter(ACCOUNTS.table)
        writer.write(converter.to_batch([account(i) for i in range(10, 500)], NOW))
        assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
        raise RuntimeError("API went away mid-run")
    assert path.read_bytes() == before
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
    assert list((tmp_path / "_staging").iterdir()) == []


def test_staging_lives_outside_the_table_folder_while_writing(store, tmp_path):
    with store.writer(ACCOUNTS.table) as writer:
        writer.write(RecordConverter(ACCOUNTS.table).to_batch([account(1)], NOW))
        staged = [p for p in (tmp_path / "_staging").rglob("*.parquet")]
        assert len(staged) == 1
        assert not (tmp_path / "accounts").exists()
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]


def test_new_column_mid_stream_widens_the_whole_file(store):
    pages = [[account(1), account(2)], [account(3, loyalty_tier="gold")], [account(4)]]
    writer, converter = publish(store, ACCOUNTS.table, pages)
    table = store.read("accounts")
    assert converter.added_fields == ["loyalty_tier"]
    assert table.column("loyalty_tier").to_pylist() == [None, None, "gold", None]
    assert table.column("i_account").to_pylist() == [1, 2, 3, 4]
    assert table.schema.names[-2:] == ["loyalty_tier", "_extracted_at"]
    assert writer.rows == 4


def test_widening_keeps_row_groups_bounded(tmp_path):
    store = TableStore(str(tmp_path), row_group_rows=100)
    pages = [[account(i) for i in range(p * 100, p * 100 + 100)] for p in range(5)]
    pages.append([account(999, loyalty_tier="gold")])
    publish(store, ACCOUNTS.table, pages)
    metadata = pq.ParquetFile(tmp_path / "accounts" / "part-00000.parquet").metadata
    assert metadata.num_row_groups == 6
    assert metadata.row_group(0).num_rows == 100


def test_a_column_added_once_stays_in_later_runs(store):
    publish(store, ACCOUNTS.table, [[account(1, loyalty_tier="gold")]])
    _, converter = publish(store, ACCOUNTS.table, [[account(2)]])
    table = store.read("accounts")
    assert table.column("loyalty_tier").to_pylist() == [None]
    assert converter.added_fields == []


def test_writer_keeps_old_columns_even_without_a_base_schema(store):
    publish(store, ACCOUNTS.table, [[account(1, loyalty_tier="gold")]])
    with store.writer(ACCOUNTS.table) as writer:
        writer.write(RecordConverter(ACCOUNTS.table).to_batch([account(2)], NOW))
    assert "loyalty_tier" in store.read("accounts").schema.names


def test_partitions_are_hive_folders_read_by_pyarrow_pandas_and_duckdb(store, tmp_path):
    publish(store, XDRS.table, [[xdr(1), xdr(2)]], partition="2024-01-01")
    publish(store, XDRS.table, [[xdr(3)]], partition="2024-01-02")
    assert table_files(tmp_path, "xdrs") == [
        "date=2024-01-01/part-00000.parquet",
        "date=2024-01-02/part-00000.parquet",
    ]
    dataset = ds.dataset(str(tmp_path / "xdrs"), partitioning="hive")
    assert sorted(dataset.to_table().column("i_xdr").to_pylist()) == [1, 2, 3]
    frame = pd.read_parquet(tmp_path / "xdrs")
    assert sorted(frame["i_xdr"]) == [1, 2, 3]
    glob = f"{tmp_path}/xdrs/**/*.parquet"
    rows = duckdb.sql(
        f"select date, count(*) from read_parquet('{glob}', hive_partitioning = true) "
        "group by date order by date"
    ).fetchall()
    assert [(str(d), n) for d, n in rows] == [("2024-01-01", 2), ("2024-01-02", 1)]


def test_pandas_and_duckdb_read_an_unpartitioned_table(store, tmp_path):
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    frame = pd.read_parquet(tmp_path / "accounts")
    assert list(frame["i_account"]) == [1, 2]
    assert frame["balance"][0] == Decimal("0.10000")
    total = duckdb.sql(f"select sum(balance) from '{tmp_path}/accounts/*.parquet'").fetchall()
    assert total == [(Decimal("0.30000"),)]


def test_polars_reads_exact_decimals_utc_times_and_hive_partitions(store, tmp_path):
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    accounts = pl.read_parquet(tmp_path / "accounts")
    assert accounts.schema["balance"] == pl.Decimal(24, 5)
    assert accounts.schema["_extracted_at"] == pl.Datetime("us", "UTC")
    assert accounts["balance"].sum() == Decimal("0.30000")
    publish(store, XDRS.table, [[xdr(1), xdr(2)]], partition="2024-01-01")
    publish(store, XDRS.table, [[xdr(3)]], partition="2024-01-02")
    days = pl.read_parquet(tmp_path / "xdrs", hive_partitioning=True)
    counts = days.group_by("date").len().sort("date")
    assert [(str(d), n) for d, n in counts.iter_rows()] == [("2024-01-01", 2), ("2024-01-02", 1)]


def test_rewriting_a_partition_leaves_the_others_alone(store, tmp_path):
    publish(store, XDRS.table, [[xdr(1)]], partition="2024-01-01")
    other = (tmp_path / "xdrs" / "date=2024-01-01" / "part-00000.parquet").read_bytes()
    publish(store, XDRS.table, [[xdr(2)]], partition="2024-01-02")
    publish(store, XDRS.table, [[xdr(3)]], partition="2024-01-02")
    assert (tmp_path / "xdrs" / "date=2024-01-01" / "part-00000.parquet").read_bytes() == other
    assert store.read("xdrs", "2024-01-02").column("i_xdr").to_pylist() == [3]


def test_partitioned_read_unites_schemas_and_adds_the_partition_column(store):
    publish(store, XDRS.table, [[xdr(1)]], partition="2024-01-01")
    publish(store, XDRS.table, [[xdr(2, trunk="A")]], partition="2024-01-02")
    table = store.read("xdrs")
    assert table.column("trunk").to_pylist() == [None, "A"]
    assert table.column("date").to_pylist() == ["2024-01-01", "2024-01-02"]


def test_a_new_partition_starts_with_columns_other_partitions_added(store):
    publish(store, XDRS.table, [[xdr(1, trunk="A")]], partition="2024-01-01")
    publish(store, XDRS.table, [[xdr(2)]], partition="2024-01-02")
    assert "trunk" in store.schema("xdrs", "2024-01-02").names


def test_upsert_replaces_inserts_and_deletes_by_key(store):
    publish(store, ACCOUNTS.table, [[account(1), account(2), account(3)]])
    changed = RecordConverter(ACCOUNTS.table, store.schema("accounts")).to_batch(
        [account(2, blocked="Y"), account(4)], NOW
    )
    result = store.upsert(ACCOUNTS.table, pa.Table.from_batches([changed]), delete_keys=[3])
    table = store.read("accounts")
    assert (result.inserted, result.updated, result.deleted, result.rows) == (1, 1, 1, 3)
    assert sorted(table.column("i_account").to_pylist()) == [1, 2, 4]
    blocked = dict(zip(table["i_account"].to_pylist(), table["blocked"].to_pylist(), strict=True))
    assert blocked == {1: False, 2: True, 4: False}


def test_upsert_on_a_new_table_creates_it(store):
    rows = RecordConverter(ACCOUNTS.table).to_batch([account(5)], NOW)
    result = store.upsert(ACCOUNTS.table, pa.Table.from_batches([rows]))
    assert (result.inserted, result.updated, result.deleted, result.rows) == (1, 0, 0, 1)


def test_upsert_keeps_the_last_row_of_a_repeated_key_and_delete_wins(store):
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    rows = RecordConverter(ACCOUNTS.table).to_batch(
        [account(1, blocked="Y"), account(1, blocked="N"), account(2)], NOW
    )
    result = store.upsert(ACCOUNTS.table, pa.Table.from_batches([rows]), delete_keys=["2"])
    table = store.read("accounts")
    assert table.column("i_account").to_pylist() == [1]
    assert table.column("blocked").to_pylist() == [False]
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 1)


def test_upsert_with_a_new_field_widens_the_table(store):
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    rows = RecordConverter(ACCOUNTS.table).to_batch([account(2, loyalty_tier="gold")], NOW)
    store.upsert(ACCOUNTS.table, pa.Table.from_batches([rows]))
    table = store.read("accounts").sort_by("i_account")
    assert table.column("loyalty_tier").to_pylist() == [None, "gold"]


def test_stale_staging_of_a_killed_run_is_removed_by_the_next_writer(tmp_path, clock):
    store = TableStore(str(tmp_path), clock=clock, staging_ttl_s=3600)
    abandoned = store.new_staging_folder()
    Path(abandoned, "part-00000.parquet").write_bytes(b"half a file")
    publish(store, ACCOUNTS.table, [[account(1)]])
    assert Path(abandoned).exists()  # young: maybe a run still writing
    clock.advance(3601)
    publish(store, ACCOUNTS.table, [[account(2)]])
    assert not Path(abandoned).exists()


@pytest.mark.parametrize("name", ["", "../x", "a/b", "_staging", ".hidden"])
def test_unsafe_table_or_partition_names_are_refused(store, name):
    with pytest.raises(ValueError, match="invalid"):
        store.table_uri("accounts", name)


def test_fsspec_memory_root_publishes_and_reads(tmp_path):
    store = TableStore(f"memory://tables-{tmp_path.name}")
    publish(store, ACCOUNTS.table, [[account(1)], [account(2, loyalty_tier="gold")]])
    publish(store, XDRS.table, [[xdr(1)]], partition="2024-01-01")
    table = store.read("accounts")
    assert table.column("loyalty_tier").to_pylist() == [None, "gold"]
    assert store.table_uri("xdrs", "2024-01-01").startswith("memory://")
    files = store.fs.find(store.root)
    assert sorted(f.removeprefix(store.root) for f in files) == [
        "/accounts/part-00000.parquet",
        "/xdrs/date=2024-01-01/part-00000.parquet",
    ]


def test_fsspec_memory_failed_run_keeps_the_previous_table(tmp_path):
    store = TableStore(f"memory://failing-{tmp_path.name}")
    publish(store, ACCOUNTS.table, [[account(1)]])
    before = store.fs.cat_file(f"{store.root}/accounts/part-00000.parquet")
    with pytest.raises(RuntimeError), store.writer(ACCOUNTS.table) as writer:
        writer.write(RecordConverter(ACCOUNTS.table).to_batch([account(7)], NOW))
        raise RuntimeError("boom")
    assert store.fs.cat_file(f"{store.root}/accounts/part-00000.parquet") == before


def test_fsspec_memory_upsert(tmp_path):
    store = TableStore(f"memory://upsert-{tmp_path.name}")
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    rows = RecordConverter(ACCOUNTS.table).to_batch([account(3)], NOW)
    result = store.upsert(ACCOUNTS.table, pa.Table.from_batches([rows]), delete_keys=[1])
    assert result.rows == 2
    assert sorted(store.read("accounts").column("i_account").to_pylist()) == [2, 3]


def test_upsert_refuses_a_partitioned_table(store):
    publish(store, XDRS.table, [[xdr(1)]], partition="2024-01-01")
    rows = RecordConverter(XDRS.table).to_batch([xdr(2)], NOW)
    with pytest.raises(ValueError, match="partitioned"):
        store.upsert(XDRS.table, pa.Table.from_batches([rows]))


def test_readers_see_a_column_added_in_a_later_partition_by_name(store, tmp_path):
    publish(store, XDRS.table, [[xdr(1)]], partition="2024-01-01")
    publish(store, XDRS.table, [[xdr(2, trunk="A")]], partition="2024-01-02")
    glob = f"{tmp_path}/xdrs/**/*.parquet"
    rows = duckdb.sql(
        f"select i_xdr, trunk from read_parquet('{glob}', hive_partitioning = true, "
        "union_by_name = true) order by i_xdr"
    ).fetchall()
    assert rows == [(1, None), (2, "A")]
    dataset = ds.dataset(str(tmp_path / "xdrs"), schema=store.schema("xdrs"))
    assert sorted(dataset.to_table().column("trunk").to_pylist(), key=str) == ["A", None]


def test_concurrent_upserts_of_one_table_lose_nothing(tmp_path: Path) -> None:
    """Each thread's read-modify-write holds the table lock, so every upsert survives."""
    store = TableStore(str(tmp_path))
    converter = RecordConverter(EVENTS)
    stamp = NOW

    def add(i_event: int) -> None:
        record = event_record("Subscriber/Updated", {"i_event": i_event, "i_account": 1}, stamp)
        store.upsert(EVENTS, pa.Table.from_batches([converter.to_batch([record], stamp)]))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(1, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    table = store.read("events")
    assert table is not None
    assert sorted(table["i_event"].to_pylist()) == list(range(1, 13))
