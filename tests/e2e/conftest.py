"""Fixtures for end-to-end runs through the project's Dagster definitions against the emulator."""

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

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
