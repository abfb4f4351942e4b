"""A writer SIGKILLed at varied points of a Delta commit leaves the table at a version."""

import contextlib
import multiprocessing
import os
import signal
import time

from connector.entities import ACCOUNTS
from connector.store.delta import DeltaTables
from tests.delta.helpers import accounts, by_key
from tests.delta.writers import rewrite_forever

KEYS = 500
# How far into a round (as a share of the previous round's time) each kill lands. Writers fork
# from a server that imported them already, so each kill costs a few rounds, not an interpreter.
SHARES = [0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
ROUNDS_BEFORE_KILL = (1, 2)  # odd rounds overwrite the snapshot, even ones MERGE


def kill_during(root: str, first: int, target: int, share: float) -> int:
    """SIGKILL the writer (from round `first`) `share` into round `target`; its last round."""
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(["tests.delta.writers"])
    announced, announce = forks.Pipe(duplex=False)
    child = forks.Process(target=rewrite_forever, args=(root, KEYS, first, announce))
    child.start()
    announce.close()
    try:
        started = time.monotonic()
        while (number := announced.recv()) < first + target:
            previous, started = started, time.monotonic()
        time.sleep(share * (started - previous))  # where in the round the kill lands
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        with contextlib.suppress(EOFError):  # the rounds it announced before it died
            while True:
                number = announced.recv()
    finally:
        child.kill()
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    return number


def logins(tables: DeltaTables) -> set[str]:
    rows = by_key(tables, "accounts", "i_account", "login")
    assert sorted(rows) == list(range(KEYS))
    return set(rows.values())


def test_sigkill_mid_commit_leaves_the_previous_or_the_next_version(tmp_path):
    tables = DeltaTables(str(tmp_path), storage_options={})
    tables.upsert(ACCOUNTS.table, accounts(*range(KEYS), login="start"))
    state = "start"
    for number, share in enumerate(SHARES * len(ROUNDS_BEFORE_KILL)):
        first = (number + 1) * 1000
        target = ROUNDS_BEFORE_KILL[number // len(SHARES)]
        last = kill_during(tables.root, first, target, share)
        before_last = f"r{last - 1}" if last > first else state
        [state] = logins(tables)  # one round's values everywhere: no half-applied commit
        assert state in {before_last, f"r{last}"}

    swept = DeltaTables(str(tmp_path), retention_hours=0, storage_options={}).maintain("accounts")
    assert swept.files_after == 1
    assert logins(tables) == {state}
    tables.upsert(ACCOUNTS.table, accounts(1, login="after"))
    assert by_key(tables, "accounts", "i_account", "login")[1] == "after"
