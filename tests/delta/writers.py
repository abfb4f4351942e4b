"""Processes that write Delta tables, for the concurrency and SIGKILL tests (run with spawn)."""

import os
import sys
from typing import Any

from connector.entities import ACCOUNTS
from connector.store.delta import DeltaTables
from tests.delta.helpers import accounts


def upsert_rounds(root: str, tag: str, keys: list[int], rounds: int, env: dict[str, str]) -> None:
    """Upsert `keys` with login `<tag>-<round>` for each round, starting when the parent says."""
    os.environ.update(env)
    tables = DeltaTables(root)
    for number in range(rounds):
        tables.upsert(ACCOUNTS.table, accounts(*keys, login=f"{tag}-{number}"))


def rewrite_forever(root: str, keys: int) -> None:
    """Rewrite every key by MERGE, then by snapshot, announcing each round on stdout."""
    tables = DeltaTables(root)
    number = 0
    while True:
        print(number, flush=True)
        rows = accounts(*range(keys), login=f"r{number}")
        if number % 2:
            with tables.writer(ACCOUNTS.table) as writer:
                for batch in rows.to_batches(max_chunksize=keys // 4):
                    writer.write(batch)
        else:
            tables.upsert(ACCOUNTS.table, rows)
        number += 1


def main(argv: list[str]) -> Any:
    return rewrite_forever(argv[1], int(argv[2]))


if __name__ == "__main__":
    main(sys.argv)
