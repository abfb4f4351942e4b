"""Processes that write Delta tables, for the concurrency and SIGKILL tests (run with spawn)."""

import os
from multiprocessing.connection import Connection
from threading import Barrier

from connector.entities import ACCOUNTS
from connector.store.delta import DeltaTables
from tests.delta.helpers import accounts


def upsert_rounds(
    root: str, tag: str, keys: list[int], rounds: int, env: dict[str, str], start: Barrier
) -> None:
    """Upsert `keys` with login `<tag>-<round>` for each round, from when every writer is ready."""
    os.environ.update(env)
    tables = DeltaTables(root)
    start.wait()
    for number in range(rounds):
        tables.upsert(ACCOUNTS.table, accounts(*keys, login=f"{tag}-{number}"))


def rewrite_forever(root: str, keys: int, number: int, announce: Connection) -> None:
    """Rewrite every key by MERGE, then by snapshot, from round `number`, announcing each round."""
    tables = DeltaTables(root)
    while True:
        announce.send(number)
        rows = accounts(*range(keys), login=f"r{number}")
        if number % 2:
            with tables.writer(ACCOUNTS.table) as writer:
                for batch in rows.to_batches(max_chunksize=keys // 4):
                    writer.write(batch)
        else:
            tables.upsert(ACCOUNTS.table, rows)
        number += 1
