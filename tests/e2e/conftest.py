"""Fixtures for end-to-end runs through the project's Dagster definitions against the emulator."""

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from connector.dagster_defs.project import build_defs
from connector.emulator import Emulator


class RacingClock:
    """The emulator's clock: real time plus `step` seconds more on every reading.

    Tokens of a few seconds then expire every few dozen requests, so a run lives through many
    expiries without any test waiting for time to pass.
    """

    def __init__(self, step: float) -> None:
        self.step = step
        self._ticks = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.time() + self.step * next(self._ticks)


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Emulator], Path]:
    """Set the contract's environment for an emulator; returns the data dir."""

    def point(emulator: Emulator) -> Path:
        data = tmp_path / "data"
        monkeypatch.setenv("PORTABILLING_URL", emulator.url)
        monkeypatch.setenv("PORTABILLING_LOGIN", emulator.login)
        monkeypatch.setenv("PORTABILLING_PASSWORD", emulator.password)
        monkeypatch.setenv("PORTABILLING_DATA_DIR", str(data))
        monkeypatch.setenv("PORTABILLING_XDR_START_DATE", "2024-01-01")
        monkeypatch.setenv("PORTABILLING_PAGE_SIZE", "50")
        monkeypatch.delenv("PORTABILLING_API_TOKEN", raising=False)
        return data

    return point


@pytest.fixture(params=["parquet", "delta"])
def table_format(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """`PORTABILLING_TABLE_FORMAT` set to each format in turn; the test wrote only that format."""
    monkeypatch.setenv("PORTABILLING_TABLE_FORMAT", request.param)
    yield str(request.param)
    delta_tables = list(tmp_path.glob("data/*/_delta_log"))
    assert delta_tables if request.param == "delta" else not delta_tables


def read_table(path: Path) -> pa.Table:
    """A table folder read back in either format (a Delta table: its current version)."""
    if (path / "_delta_log").is_dir():
        return DeltaTable(str(path)).to_pyarrow_table()
    return pq.read_table(path)


@pytest.fixture
def events_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`PORTABILLING_EVENTS_DB` set to a fresh store path."""
    path = tmp_path / "events.sqlite3"
    monkeypatch.setenv("PORTABILLING_EVENTS_DB", str(path))
    return path


def materialize(
    job: str, partition: str | None = None, *, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    """Run one of the project's jobs, as `definitions.py` builds it from the environment."""
    return (
        build_defs()
        .resolve_job_def(job)
        .execute_in_process(partition_key=partition, raise_on_error=raise_on_error)
    )
