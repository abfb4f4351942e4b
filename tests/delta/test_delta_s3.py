"""Delta tables on S3 (a local moto server): the same commits, reads and maintenance."""

import polars as pl

from connector.entities import ACCOUNTS, XDRS
from connector.store.delta import DeltaTables
from connector.store.tables import EVENTS

from .helpers import accounts, by_key, column, event, publish, rows

DAY1, DAY2 = "2024-01-01", "2024-01-02"


def test_snapshot_upsert_and_time_travel_on_s3(s3, s3_root):
    tables = DeltaTables(s3_root)
    publish(tables, ACCOUNTS.table, [[{"i_account": 1}, {"i_account": 2}]])

    change = tables.upsert(ACCOUNTS.table, accounts(2, 3, login="new"), delete_keys=[1])

    assert (change.inserted, change.updated, change.deleted, change.rows) == (1, 1, 1, 2)
    assert by_key(tables, "accounts", "i_account", "login") == {2: "new", 3: "new"}
    uri, options = tables.table_uri("accounts"), tables.storage_options
    assert uri == f"{s3_root}/accounts" and s3.exists(f"{uri}/_delta_log")
    assert sorted(pl.read_delta(uri, version=0, storage_options=options)["i_account"]) == [1, 2]


def test_days_and_appends_on_s3(s3_root):
    tables = DeltaTables(s3_root)
    publish(tables, XDRS.table, [[{"i_xdr": 1}]], DAY1)
    publish(tables, XDRS.table, [[{"i_xdr": 2}]], DAY2)
    publish(tables, XDRS.table, [[{"i_xdr": 3}]], DAY1)
    assert column(tables, "xdrs", "i_xdr") == [2, 3]

    events = rows(EVENTS, [event(1, f"{DAY1} 10:00:00"), event(2, f"{DAY2} 10:00:00")])
    tables.append(EVENTS, events, "received_at")
    retried = tables.append(EVENTS, events, "received_at", dedupe=True)
    assert (retried.appended, retried.skipped) == (0, 2)
    assert tables.row_count("events", DAY2) == 1


def test_maintain_compacts_on_s3(s3_root):
    tables = DeltaTables(s3_root, retention_hours=0)
    for key in range(3):
        tables.upsert(ACCOUNTS.table, accounts(key))

    result = tables.maintain("accounts")

    assert (result.files_before, result.files_after) == (3, 1)
    assert result.files_removed >= 3
    assert column(tables, "accounts", "i_account") == [0, 1, 2]
