"""Writers in separate processes, with no lock between them: optimistic commits lose nothing."""

import multiprocessing
import os
from typing import Any

import pytest
from deltalake import DeltaTable

from connector.store.delta import DeltaTables
from tests.delta.helpers import by_key
from tests.delta.writers import upsert_rounds

ROUNDS = 12
ONLY_A, ONLY_B, BOTH = list(range(0, 40)), list(range(40, 80)), list(range(80, 100))
AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3")


def run_two_writers(root: str) -> None:
    """Processes A and B upsert their own and the shared keys `ROUNDS` times, concurrently.

    Both start together (a barrier, then no synchronization at all), so both may create the table.
    """
    env = {name: os.environ[name] for name in AWS if name in os.environ}
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    plans: list[tuple[str, list[int]]] = [("a", ONLY_A + BOTH), ("b", ONLY_B + BOTH)]
    writers = [
        spawn.Process(target=upsert_rounds, args=(root, tag, keys, ROUNDS, env, start))
        for tag, keys in plans
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]


def assert_no_update_lost(tables: DeltaTables) -> None:
    logins: dict[Any, Any] = by_key(tables, "accounts", "i_account", "login")
    last = f"{ROUNDS - 1}"
    assert sorted(logins) == list(range(100))
    assert tables.row_count("accounts") == 100  # each key once
    assert {logins[k] for k in ONLY_A} == {f"a-{last}"}
    assert {logins[k] for k in ONLY_B} == {f"b-{last}"}
    assert len({logins[k] for k in BOTH}) == 1  # the same MERGE committed last for all of them
    assert logins[BOTH[0]] in {f"a-{last}", f"b-{last}"}
    # Version 0 is the upsert that created the table; every other upsert is one more commit.
    uri = tables.table_uri("accounts")
    assert DeltaTable(uri, storage_options=tables.storage_options).version() == 2 * ROUNDS - 1


def test_two_processes_upserting_one_local_table_lose_no_update(tables):
    run_two_writers(tables.root)
    assert_no_update_lost(tables)


@pytest.mark.usefixtures("s3")
def test_two_processes_upserting_one_s3_table_lose_no_update(s3_root):
    tables = DeltaTables(s3_root)
    run_two_writers(s3_root)
    assert_no_update_lost(tables)
