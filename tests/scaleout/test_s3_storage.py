"""Tables on S3 (a local moto server): same contents and guarantees as on a local folder."""

from datetime import date
from typing import Any

import pyarrow.parquet as pq
import pytest
import s3fs

from connector.dagster_defs.project import SNAPSHOT_JOB, XDRS_JOB
from connector.entities import ACCOUNTS, CUSTOMERS, XDRS
from connector.store.arrowio import RecordConverter
from connector.store.storage import TableStore
from connector.store.tables import TableSpec
from tests.e2e.conftest import materialize
from tests.e2e.expected import actual_row, expected_row
from tests.tables.helpers import NOW, account, publish
from tests.tables.test_table_kill import run_writer_until_killed

DAYS = [date(2024, 1, 1), date(2024, 1, 2)]


def read_s3(s3: s3fs.S3FileSystem, uri: str) -> tuple[Any, list[dict[str, Any]]]:
    """A table folder read back with pyarrow through s3fs."""
    table = pq.read_table(uri.removeprefix("s3://"), filesystem=s3)
    return table.schema, table.to_pylist()


def assert_equal_to_truth(
    s3: s3fs.S3FileSystem, spec: TableSpec, uri: str, truth: list[dict[str, Any]]
) -> None:
    schema, rows = read_s3(s3, uri)
    by_key = {row[spec.key]: row for row in rows}
    assert len(by_key) == len(rows), "duplicate keys"
    wanted = {int(record[spec.key]): record for record in truth}
    assert set(by_key) == set(wanted)
    for key, record in wanted.items():
        assert actual_row(schema, by_key[key]) == expected_row(spec, schema, record), key


@pytest.fixture
def emulator(make_emulator, point_env, s3_root):
    emu = make_emulator(customers=6, accounts=60, xdrs_per_account=4, xdr_days=2, seed=5)
    point_env(emu, s3_root)
    return emu


def test_snapshots_and_two_xdr_days_on_s3_equal_truth(emulator, s3, s3_root):
    materialize(SNAPSHOT_JOB)
    for day in DAYS:
        materialize(XDRS_JOB, day.isoformat())

    assert_equal_to_truth(s3, CUSTOMERS.table, f"{s3_root}/customers", emulator.truth.customers())
    assert_equal_to_truth(s3, ACCOUNTS.table, f"{s3_root}/accounts", emulator.truth.accounts())
    for day in DAYS:
        uri = f"{s3_root}/xdrs/date={day.isoformat()}"
        assert_equal_to_truth(s3, XDRS.table, uri, emulator.truth.xdrs(day))
    assert not s3.exists(f"{s3_root}/_staging") or s3.find(f"{s3_root}/_staging") == []


def test_rerun_replaces_the_partition_with_one_object(emulator, s3, s3_root):
    day = DAYS[0].isoformat()
    materialize(XDRS_JOB, day)
    materialize(XDRS_JOB, day)

    folder = f"{s3_root}/xdrs/date={day}"
    assert s3.find(folder) == [f"{folder}/part-00000.parquet".removeprefix("s3://")]
    assert_equal_to_truth(s3, XDRS.table, folder, emulator.truth.xdrs(DAYS[0]))


def test_failed_write_leaves_previous_object(s3, s3_root):
    store = TableStore(s3_root)
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    path = f"{s3_root}/accounts/part-00000.parquet"
    before = s3.cat(path)

    with pytest.raises(RuntimeError), store.writer(ACCOUNTS.table) as writer:
        converter = RecordConverter(ACCOUNTS.table, base_schema=writer.schema)
        writer.write(converter.to_batch([account(3)], NOW))
        raise RuntimeError("the API went away")

    assert s3.cat(path) == before
    assert s3.find(f"{s3_root}/accounts") == [path.removeprefix("s3://")]


def test_sigkilled_writer_leaves_previous_objects_readable(s3, s3_root):
    store = TableStore(s3_root)
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    path = f"{s3_root}/accounts/part-00000.parquet"
    before = s3.cat(path)

    run_writer_until_killed(s3_root)  # the writer of the local-folder test, on S3

    assert s3.cat(path) == before
    assert s3.find(f"{s3_root}/accounts") == [path.removeprefix("s3://")]
    assert TableStore(s3_root).read("accounts").column("i_account").to_pylist() == [1, 2]
