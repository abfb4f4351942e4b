"""Key-bucketed unpartitioned tables: bucket files, readers, bounded upserts, S3."""

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from connector.store.buckets import bucket_count, bucket_file, bucket_ids
from connector.store.storage import TableStore
from tests.scaleout.conftest import s3, s3_endpoint, s3_root  # noqa: F401 (fixtures)

from .helpers import SPEC, accounts, snapshot, table_files

GOLDEN = 0x9E3779B97F4A7C15


def reference_bucket(key: int, count: int) -> int:
    """Fibonacci hashing spelled out with Python integers."""
    bits = count.bit_length() - 1
    return ((key * GOLDEN) % 2**64) >> (64 - bits) if bits else 0


def data_files(root: Path) -> list[str]:
    """The Parquet files of the accounts table, by name."""
    return sorted(p.name for p in (root / "accounts").glob("*.parquet"))


def file_identity(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.parquet")}


def balances(table: pa.Table) -> dict[int, str]:
    keys, values = table["i_account"].to_pylist(), table["balance"].to_pylist()
    assert len(set(keys)) == len(keys), "duplicate keys"
    return {k: str(v) for k, v in zip(keys, values, strict=True)}


@pytest.mark.parametrize("count", [1, 2, 16, 1024])
def test_bucket_of_a_key_is_the_top_bits_of_its_fibonacci_hash(count):
    keys = [0, 1, 2, 1000889, 2**40 + 7, -5, 2**63 - 1]
    expected = [reference_bucket(k % 2**64, count) for k in keys]
    assert bucket_ids(pa.array(keys, pa.int64()), count).tolist() == expected


def test_doubling_the_bucket_count_splits_each_bucket_in_two():
    keys = pa.array(range(1, 5000), pa.int64())
    coarse, fine = bucket_ids(keys, 64), bucket_ids(keys, 128)
    assert (fine // 2 == coarse).all()
    assert len(set(fine.tolist())) == 128  # consecutive ids spread over every bucket


@pytest.mark.parametrize(
    ("rows", "bucket_rows", "count"),
    [(0, 100, 1), (100, 100, 1), (101, 100, 2), (200, 100, 2), (201, 100, 4), (10**7, 2048, 8192)],
)
def test_bucket_count_is_the_smallest_power_of_two_within_bucket_rows(rows, bucket_rows, count):
    assert bucket_count(rows, bucket_rows) == count


def test_bucket_file_names():
    assert bucket_file(0, 1) == "part-00000.parquet"
    assert bucket_file(5, 16) == "part-00005-of-00016.parquet"


def test_a_small_table_stays_one_file(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(100))))
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]


def test_snapshot_over_the_threshold_writes_bucket_files_every_reader_reads(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    keys = list(range(1, 1001))
    published = snapshot(store, accounts(keys))
    folder = tmp_path / "accounts"
    names = data_files(tmp_path)
    assert table_files(tmp_path, "accounts") == ["_row_counts.json", *names]
    expected = sorted({bucket_file(reference_bucket(k, 16), 16) for k in keys})
    assert names == expected and len(names) == 16
    assert published == sum((folder / name).stat().st_size for name in names)
    schemas = {pq.read_schema(folder / name) for name in names}
    assert len(schemas) == 1
    glob = f"{folder}/*.parquet"
    assert sorted(pd.read_parquet(folder)["i_account"]) == keys
    assert sorted(ds.dataset(str(folder)).to_table()["i_account"].to_pylist()) == keys
    assert [k for (k,) in duckdb.sql(f"select i_account from '{glob}' order by 1").fetchall()] == (
        keys
    )
    assert sorted(pl.read_parquet(glob)["i_account"].to_list()) == keys
    assert store.row_count("accounts") == 1000
    assert sorted(store.read("accounts")["i_account"].to_pylist()) == keys


def test_every_bucket_file_holds_only_its_keys_sorted(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000, 0, -1))))
    for path in (tmp_path / "accounts").glob("*.parquet"):
        keys = pq.read_table(path)["i_account"].to_pylist()
        bucket = int(path.name[5:10])
        assert keys == sorted(keys)
        assert {reference_bucket(k, 16) for k in keys} == {bucket}


def test_a_snapshot_changing_the_bucket_count_leaves_only_its_own_files(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    snapshot(store, accounts(list(range(300))))
    assert all(name.endswith("-of-00004.parquet") for name in data_files(tmp_path))
    snapshot(store, accounts(list(range(50))))
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
    assert store.row_count("accounts") == 50


def test_upsert_of_ten_keys_rewrites_only_their_buckets(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=1024)
    keys = np.arange(1, 200_001)
    snapshot(store, accounts(keys))
    folder = tmp_path / "accounts"
    before = file_identity(folder)
    assert len(before) == 256
    changed, added, gone = [7, 1000, 5_555, 42_424, 99_999, 150_000, 199_998], [300_001, 300_002], 3
    located = duckdb.sql(
        f"select distinct filename from read_parquet('{folder}/*.parquet', filename = true) "
        f"where i_account in {tuple([*changed, gone])}"
    ).fetchall()
    touched = {Path(name).name for (name,) in located}
    touched |= {bucket_file(reference_bucket(k, 256), 256) for k in added}

    result = store.upsert(SPEC, accounts([*changed, *added], balance="9"), delete_keys=[gone])

    after = file_identity(folder)
    rewritten = {name for name in after if after[name] != before.get(name)}
    assert rewritten == touched
    assert set(before) - set(after) == set()
    assert result.bytes_written == sum((folder / name).stat().st_size for name in rewritten)
    assert (result.inserted, result.updated, result.deleted, result.rows) == (2, 7, 1, 200_001)
    expected = {int(k): "1.50000" for k in keys if k != gone}
    expected.update({k: "9.00000" for k in [*changed, *added]})
    assert balances(store.read("accounts")) == expected


def test_deleting_every_key_of_a_bucket_removes_its_file(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    victim = "part-00003-of-00016.parquet"
    keys = pq.read_table(tmp_path / "accounts" / victim)["i_account"].to_pylist()
    result = store.upsert(SPEC, accounts([]), delete_keys=keys)
    assert victim not in data_files(tmp_path)
    assert (result.deleted, result.rows, result.bytes_written) == (len(keys), 1000 - len(keys), 0)
    assert len(store.read("accounts")) == 1000 - len(keys)


def test_upsert_never_changes_the_bucket_count(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    store.upsert(SPEC, accounts(list(range(1000, 5000))))
    assert all(name.endswith("-of-00016.parquet") for name in data_files(tmp_path))
    assert store.row_count("accounts") == 5000


def test_a_widening_upsert_rewrites_every_bucket_with_one_schema(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    rows = accounts([5, 2000]).append_column("loyalty_tier", pa.array(["gold", None]))
    result = store.upsert(SPEC, rows)
    folder = tmp_path / "accounts"
    schemas = {pq.read_schema(path) for path in folder.glob("*.parquet")}
    assert len(schemas) == 1 and "loyalty_tier" in schemas.pop().names
    assert result.bytes_written == sum(path.stat().st_size for path in folder.glob("*.parquet"))
    table = store.read("accounts")
    tiers = dict(
        zip(table["i_account"].to_pylist(), table["loyalty_tier"].to_pylist(), strict=True)
    )
    assert tiers[5] == "gold" and tiers[6] is None and len(tiers) == 1001


def test_lookup_finds_rows_by_any_column_across_buckets(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    found = store.lookup("accounts", "id", ["17", "923", "nope"])
    assert sorted(found["i_account"].to_pylist()) == [17, 923]
    assert store.lookup("customers", "id", ["1"]) is None


def test_fsspec_root_publishes_buckets_file_by_file_and_drops_stale_ones(tmp_path):
    store = TableStore(f"memory://buckets-{tmp_path.name}", bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    store.upsert(SPEC, accounts([1, 5000], balance="2"), delete_keys=[2])
    names = [os.path.basename(p) for p in store.fs.glob(f"{store.root}/accounts/*.parquet")]
    assert len(names) == 16 and all(name.endswith("-of-00016.parquet") for name in names)
    assert len(store.read("accounts")) == 1000
    snapshot(store, accounts(list(range(10))))
    assert store.fs.find(f"{store.root}/accounts") == [f"{store.root}/accounts/part-00000.parquet"]


def test_s3_bucketed_snapshot_and_upsert(s3_root, s3):  # noqa: F811 (fixtures)
    store = TableStore(s3_root, bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    folder = f"{s3_root}/accounts".removeprefix("s3://")
    before = {p: s3.info(p)["ETag"] for p in s3.glob(f"{folder}/*.parquet")}
    assert len(before) == 16

    result = store.upsert(SPEC, accounts([10], balance="3"), delete_keys=[11])

    after = {p: s3.info(p)["ETag"] for p in s3.glob(f"{folder}/*.parquet")}
    rewritten = {p for p in after if after[p] != before.get(p)} | (set(before) - set(after))
    touched = {f"{folder}/{bucket_file(reference_bucket(k, 16), 16)}" for k in (10, 11)}
    assert rewritten == touched
    assert (result.updated, result.deleted, result.rows) == (1, 1, 999)
    table = pq.read_table(folder, filesystem=s3)
    assert balances(table)[10] == "3.00000" and 11 not in balances(table)
    assert s3.find(f"{s3_root}/_staging".removeprefix("s3://")) == []


class LosingStore(TableStore):
    """A store whose object moves fail from the `fail_at`-th on (a connection lost mid-publish)."""

    def __init__(self, root: str, fail_at: int, **options: int) -> None:
        super().__init__(root, **options)
        self.fail_at, self.moves = fail_at, 0

    def move_file(self, staged: str, final: str) -> None:
        self.moves += 1
        if self.moves >= self.fail_at:
            raise OSError("connection lost")
        super().move_file(staged, final)


def test_an_interrupted_file_by_file_publish_blocks_upserts_until_a_snapshot(tmp_path):
    root = f"memory://interrupted-{tmp_path.name}"
    snapshot(TableStore(root, bucket_rows=100), accounts(list(range(1000))))
    with pytest.raises(OSError, match="connection lost"):
        snapshot(LosingStore(root, 3, bucket_rows=100), accounts(list(range(2000))))
    store = TableStore(root, bucket_rows=100)
    with pytest.raises(ValueError, match="interrupted snapshot publish; run a snapshot"):
        store.upsert(SPEC, accounts([1]))
    snapshot(store, accounts(list(range(2000))))
    assert len(store.fs.glob(f"{store.root}/accounts/*.parquet")) == 32
    assert len(balances(store.read("accounts"))) == 2000


def test_an_old_single_file_table_upserts_in_row_groups_and_stays_one_file(tmp_path):
    snapshot(TableStore(str(tmp_path), bucket_rows=10**9), accounts(list(range(1000))))
    store = TableStore(str(tmp_path), bucket_rows=100, row_group_rows=300)
    result = store.upsert(SPEC, accounts([5, 1000], balance="4"), delete_keys=[6])
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
    metadata = pq.read_metadata(tmp_path / "accounts" / "part-00000.parquet")
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert max(sizes) == 300 and sum(sizes) == 1000
    assert (result.inserted, result.updated, result.deleted, result.rows) == (1, 1, 1, 1000)
    assert balances(store.read("accounts"))[1000] == "4.00000"


def test_row_count_recounts_a_bucket_file_replaced_behind_the_remembered_counts(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    path = tmp_path / "accounts" / "part-00003-of-00016.parquet"
    fewer = pq.read_table(path).slice(0, 5)
    pq.write_table(fewer, tmp_path / "replacement.parquet")
    os.replace(tmp_path / "replacement.parquet", path)
    assert store.row_count("accounts") == len(store.read("accounts")) < 1000


def test_row_count_ignores_an_unreadable_counts_file(tmp_path):
    store = TableStore(str(tmp_path), bucket_rows=100)
    snapshot(store, accounts(list(range(1000))))
    (tmp_path / "accounts" / "_row_counts.json").write_text("{not json")
    assert store.row_count("accounts") == 1000
    store.upsert(SPEC, accounts([2000]))
    assert json.loads((tmp_path / "accounts" / "_row_counts.json").read_text())
    assert store.row_count("accounts") == 1001
