"""A writer killed with SIGKILL mid-stream leaves the previous table exactly as it was."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq

from connector.entities import ACCOUNTS
from connector.store.storage import TableStore

from .helpers import account, publish, table_files

BATCHES_BEFORE_KILL = 3

# Writes pages forever, reporting each on stdout, so the test can kill it mid-stream.
WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from connector.store.arrowio import RecordConverter
    from connector.store.storage import TableStore
    from connector.entities import ACCOUNTS

    store = TableStore(sys.argv[1])
    with store.writer(ACCOUNTS.table) as writer:
        converter = RecordConverter(ACCOUNTS.table, base_schema=writer.schema)
        page = 0
        while True:
            records = [{"i_account": page * 1000 + i, "balance": 1.5} for i in range(1000)]
            writer.write(converter.to_batch(records, datetime.now(UTC)))
            page += 1
            print(page, flush=True)
    """
)


def run_writer_until_killed(root: Path) -> None:
    """Start a writer process, SIGKILL it once it reports enough batches written."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if int(line) >= BATCHES_BEFORE_KILL:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_sigkilled_writer_leaves_previous_table_byte_identical(tmp_path):
    store = TableStore(str(tmp_path))
    publish(store, ACCOUNTS.table, [[account(1), account(2)]])
    path = tmp_path / "accounts" / "part-00000.parquet"
    before = path.read_bytes()

    run_writer_until_killed(tmp_path)

    assert path.read_bytes() == before
    assert table_files(tmp_path, "accounts") == ["part-00000.parquet"]
    assert pq.read_table(path).column("i_account").to_pylist() == [1, 2]
    leftovers = list((tmp_path / "_staging").iterdir())
    assert len(leftovers) == 1  # the killed run's staging, outside the table folder

    # The staging folder name carries the real creation time: look from ten days later.
    later = TableStore(str(tmp_path), clock=lambda: time.time() + 10 * 24 * 3600)
    publish(later, ACCOUNTS.table, [[account(3)]])
    assert list((tmp_path / "_staging").iterdir()) == []
