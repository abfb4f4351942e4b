"""The `portabilling` command: exit codes, one-line errors, and the demo from a clean folder."""

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest


def portabilling(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector.commands.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("nonsense",),
        ("demo", "--accounts", "0"),
        ("demo", "--bogus"),
        ("webhook", "--auth", "magic"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: tuple[str, ...]) -> None:
    result = portabilling(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    for command in ("demo", "emulator", "webhook"):
        result = portabilling(command, "--help")
        assert result.returncode == 0 and "usage: portabilling " + command in result.stdout


def test_demo_leaves_typed_tables(tmp_path: Path) -> None:
    result = portabilling(
        "demo", "--data-dir", str(tmp_path / "data"), "--accounts", "150", "--days", "2"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    accounts = pq.read_table(tmp_path / "data" / "accounts")
    assert accounts.num_rows == 150
    assert str(accounts.schema.field("balance").type) == "decimal128(24, 5)"
    days = sorted(p.name for p in (tmp_path / "data" / "xdrs").iterdir())
    assert days == ["date=2024-01-01", "date=2024-01-02"]
    assert "accounts" in result.stdout and "150 rows" in result.stdout
