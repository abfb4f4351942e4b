"""Table locks on S3 (a local moto server): writers on different machines never overlap."""

import multiprocessing
import tempfile
from collections.abc import Iterator

import fsspec
import pyarrow as pa
import pytest
import s3fs

from connector.api.errors import ConfigurationError
from connector.entities import ACCOUNTS
from connector.store.arrowio import RecordConverter
from connector.store.conditional import S3Objects
from connector.store.leases import Holder, Lease, LockLost, LockTimeout, LockUnsupported
from connector.store.locks import folder_lock, lock_path
from connector.store.storage import TableStore
from tests.conftest import FakeClock
from tests.tables.helpers import NOW, account, publish

TTL_S = 5.0
KEYS_PER_WRITER = 8


def upsert_one_at_a_time(root: str, keys: list[int], temp_dir: str) -> None:
    """Upsert accounts one by one, as a writer on a machine of its own (its own temp folder)."""
    tempfile.tempdir = temp_dir  # where a lock that only one machine sees would live
    store = TableStore(root)
    for key in keys:
        batch = RecordConverter(ACCOUNTS.table).to_batch([account(key)], NOW)
        store.upsert(ACCOUNTS.table, pa.Table.from_batches([batch]))


@pytest.fixture
def leases(s3: s3fs.S3FileSystem, s3_root: str, clock: FakeClock) -> Iterator[list[Lease]]:
    """Leases on one lock object, timed by the fake clock; their heartbeats stop after the test."""
    made: list[Lease] = []
    yield made
    for lease in made:
        if lease._heartbeat is not None:
            lease._heartbeat.stop()


def new_lease(s3, s3_root, clock, made, *, timeout_s=3600.0, sleep=None) -> Lease:
    lease = Lease(
        S3Objects(s3),
        f"{s3_root}/_locks/accounts.lock",
        table=f"{s3_root}/accounts",
        timeout_s=timeout_s,
        ttl_s=TTL_S,
        clock=clock,
        sleep=sleep or clock.advance,
    )
    made.append(lease)
    return lease


def test_writers_on_two_machines_never_lose_an_upsert(s3_root, tmp_path):
    publish(TableStore(s3_root), ACCOUNTS.table, [[account(0)]])
    keys = [list(range(1 + w * KEYS_PER_WRITER, 1 + (w + 1) * KEYS_PER_WRITER)) for w in (0, 1)]
    spawn = multiprocessing.get_context("spawn")
    writers = [
        spawn.Process(target=upsert_one_at_a_time, args=(s3_root, part, str(tmp_path / f"m{n}")))
        for n, part in enumerate(keys)
    ]
    for n, writer in enumerate(writers):
        (tmp_path / f"m{n}").mkdir()
        writer.start()
    for writer in writers:
        writer.join(timeout=90)
        assert writer.exitcode == 0

    table = TableStore(s3_root).read("accounts")
    assert sorted(table.column("i_account").to_pylist()) == list(range(2 * KEYS_PER_WRITER + 1))


def test_a_lease_nobody_renews_is_taken_over_after_its_ttl(s3, s3_root, clock, leases):
    holder = new_lease(s3, s3_root, clock, leases)
    holder.acquire()
    waiter = new_lease(s3, s3_root, clock, leases)
    start = clock()

    waiter.acquire()

    assert clock() - start >= TTL_S
    assert Holder.from_body(s3.cat(waiter.path)).owner == waiter.owner
    with pytest.raises(LockLost, match="lapsed"):
        holder.check()


def test_an_unreadable_lease_is_taken_over_after_a_ttl(s3, s3_root, clock, leases):
    waiter = new_lease(s3, s3_root, clock, leases)
    s3.pipe(waiter.path, b"\x00 not a lease")
    start = clock()

    waiter.acquire()

    assert clock() - start >= TTL_S
    assert Holder.from_body(s3.cat(waiter.path)).owner == waiter.owner


def test_a_renewed_lease_is_not_taken_over(s3, s3_root, clock, leases):
    holder = new_lease(s3, s3_root, clock, leases)
    holder.acquire()

    def wait_while_the_holder_renews(seconds: float) -> None:
        clock.advance(seconds)
        assert holder.renew()

    waiter = new_lease(
        s3, s3_root, clock, leases, timeout_s=3 * TTL_S, sleep=wait_while_the_holder_renews
    )
    with pytest.raises(LockTimeout):
        waiter.acquire()
    assert Holder.from_body(s3.cat(holder.path)).owner == holder.owner
    holder.check()


def test_releasing_a_lease_taken_over_is_refused_and_keeps_the_new_holder(
    s3, s3_root, clock, leases
):
    holder = new_lease(s3, s3_root, clock, leases)
    holder.acquire()
    waiter = new_lease(s3, s3_root, clock, leases)
    waiter.acquire()

    with pytest.raises(LockLost, match=f"now held by {waiter.owner}"):
        holder.release()

    assert Holder.from_body(s3.cat(waiter.path)).owner == waiter.owner
    waiter.release()
    assert not s3.exists(waiter.path)


def test_timeout_names_the_table_and_the_holder(s3, s3_root, clock, leases):
    holder = new_lease(s3, s3_root, clock, leases)
    holder.acquire()
    waiter = new_lease(s3, s3_root, clock, leases, timeout_s=TTL_S / 2)

    with pytest.raises(LockTimeout) as raised:
        waiter.acquire()

    message = str(raised.value)
    assert f"{s3_root}/accounts" in message
    assert f"held by {holder.owner}" in message
    assert "after 2.5 s (PORTABILLING_LOCK_TIMEOUT_S)" in message
    holder.release()
    assert not s3.exists(holder.path)


def test_an_upsert_waits_at_most_the_configured_timeout(s3, s3_root, clock, leases, monkeypatch):
    store = TableStore(s3_root)
    publish(store, ACCOUNTS.table, [[account(1)]])
    other_machine = Lease(
        S3Objects(s3), lock_path(store.root, f"{store.root}/accounts"), table="", timeout_s=0
    )
    leases.append(other_machine)
    other_machine.acquire()
    monkeypatch.setenv("PORTABILLING_LOCK_TIMEOUT_S", "0")

    batch = RecordConverter(ACCOUNTS.table).to_batch([account(2)], NOW)
    with pytest.raises(LockTimeout, match=f"{s3_root}/accounts: gave up .* after 0 s"):
        store.upsert(ACCOUNTS.table, pa.Table.from_batches([batch]))

    assert store.read("accounts").column("i_account").to_pylist() == [1]


def test_a_store_that_ignores_conditional_writes_is_refused(s3, s3_root_without_conditions):
    store = TableStore(s3_root_without_conditions)

    with pytest.raises(LockUnsupported) as raised:
        publish(store, ACCOUNTS.table, [[account(1)]])

    message = str(raised.value)
    assert message.startswith(f"writes to {s3_root_without_conditions} refused")
    assert "ignores conditional writes" in message
    assert "PORTABILLING_TABLE_FORMAT=delta" in message
    assert not s3.exists(f"{s3_root_without_conditions}/accounts")


def test_a_filesystem_without_conditional_create_is_refused(tmp_path):
    fs = fsspec.filesystem("dir", path=str(tmp_path), fs=fsspec.filesystem("file"))

    refused = pytest.raises(LockUnsupported, match="DirFileSystem offers no conditional create")

    with refused, folder_lock(fs, "tables", "tables/accounts"):
        pass


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_is_named(s3_root, monkeypatch, value):
    monkeypatch.setenv("PORTABILLING_LOCK_TIMEOUT_S", value)

    with pytest.raises(ConfigurationError, match=r"^PORTABILLING_LOCK_TIMEOUT_S must be"):
        publish(TableStore(s3_root), ACCOUNTS.table, [[account(1)]])


def test_conditional_requests_that_meet_a_conflict_are_retried(s3, s3_root_with_conflicts):
    store = TableStore(s3_root_with_conflicts)

    publish(store, ACCOUNTS.table, [[account(1)]])

    assert store.read("accounts").column("i_account").to_pylist() == [1]
    assert s3.find(f"{s3_root_with_conflicts}/_locks") == []
