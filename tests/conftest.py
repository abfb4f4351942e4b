"""Shared test fixtures: an injectable clock, so no test sleeps for time to pass."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.emulator import Emulator, EmulatorConfig


class FakeClock:
    """A thread-safe manual clock: `clock()` reads it; `sleep(s)` / `advance(s)` move it."""

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


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators on free loopback ports: `make_emulator(clock=None, **config_fields)`."""
    started: list[Emulator] = []

    def make(clock: Callable[[], float] | None = None, **config_fields: Any) -> Emulator:
        emulator = Emulator(EmulatorConfig(**config_fields), clock=clock or time.time).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture(scope="session", autouse=True)
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Token caches and request slots of the test session live in its own folder, not in /tmp."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PORTABILLING_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        yield
