"""`portabilling demo` with PORTABILLING_TABLE_FORMAT=delta writes Delta tables and counts them."""

import os
import subprocess
import sys
from pathlib import Path

from deltalake import DeltaTable


def test_the_demo_writes_and_summarizes_delta_tables(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = ["demo", "--data-dir", str(data), "--accounts", "120", "--days", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "connector.commands.cli", *command],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PORTABILLING_TABLE_FORMAT": "delta"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert DeltaTable(str(data / "accounts")).to_pyarrow_table().num_rows == 120
    [accounts_line] = [line for line in result.stdout.splitlines() if " accounts " in line]
    assert "120 rows" in accounts_line
