"""Shared test fixtures: an injectable clock, so no test sleeps for time to pass."""

import threading

import pytest


class FakeClock:
    """A thread-safe manual clock: `clock()` reads it, `clock.sleep(s)` / `clock.advance(s)` move it."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
