"""Delta tables read back with deltalake, Polars, pandas and DuckDB, now and at earlier versions."""

import duckdb
import polars as pl
from deltalake import DeltaTable

from connector.entities import ACCOUNTS, XDRS
from connector.store.delta import DeltaTables

from .helpers import accounts, publish

DAY = "2024-01-01"


def versions(tables: DeltaTables) -> str:
    """The accounts table in three versions: [1, 2], then 2 updated, then 1 deleted."""
    tables.upsert(ACCOUNTS.table, accounts(1, 2, login="first"))
    tables.upsert(ACCOUNTS.table, accounts(2, login="second"))
    tables.upsert(ACCOUNTS.table, accounts(), delete_keys=[1])
    return tables.table_uri("accounts")


def test_deltalake_reads_each_version(tables):
    uri = versions(tables)
    assert DeltaTable(uri).to_pyarrow_table()["login"].to_pylist() == ["second"]
    first = DeltaTable(uri, version=0).to_pyarrow_table().sort_by("i_account")
    assert first["login"].to_pylist() == ["first", "first"]
    assert [c["operation"] for c in DeltaTable(uri).history()] == ["MERGE", "MERGE", "WRITE"]


def test_polars_reads_the_table_and_a_previous_version(tables):
    uri = versions(tables)
    assert pl.read_delta(uri)["i_account"].to_list() == [2]
    before = pl.read_delta(uri, version=1).sort("i_account")
    assert before["login"].to_list() == ["first", "second"]


def test_pandas_reads_through_deltalake(tables):
    uri = versions(tables)
    frame = DeltaTable(uri).to_pandas()
    assert frame["i_account"].tolist() == [2]
    assert str(frame["balance"].dtype) == "object"  # exact decimals survive
    assert sorted(DeltaTable(uri, version=0).to_pandas()["i_account"]) == [1, 2]


def test_duckdb_queries_the_current_version_through_deltalake(tables):
    publish(tables, XDRS.table, [[{"i_xdr": 1, "i_account": 1}, {"i_xdr": 2, "i_account": 1}]], DAY)
    dataset = DeltaTable(tables.table_uri("xdrs")).to_pyarrow_dataset()  # noqa: F841 (in SQL)
    rows = duckdb.sql("SELECT count(*), any_value(date) FROM dataset").fetchall()
    assert rows == [(2, DAY)]
