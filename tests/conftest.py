"""Shared test fixtures: an injectable clock, so no test sleeps for time to pass.

`PORTABILLING_TEST_RELEASE=legacy` (`make test-legacy`) runs the suite against emulators playing a
release before MR101, with the connector's clients in legacy mode; the default is the current one.
"""

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.releases import DEFAULT_RELEASE, RELEASES

TEST_RELEASE = os.environ.get("PORTABILLING_TEST_RELEASE") or DEFAULT_RELEASE


def legacy_for(emulator: Emulator) -> bool:
    """Whether a client of this emulator must speak the legacy form style."""
    return not emulator.config.profile.accepts_json


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
    """Start emulators on free loopback ports: `make_emulator(clock=None, **config_fields)`.

    The release is the one under test unless `release=` pins one.
    """
    started: list[Emulator] = []

    def make(clock: Callable[[], float] | None = None, **config_fields: Any) -> Emulator:
        config_fields.setdefault("release", TEST_RELEASE)
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


@pytest.fixture(scope="session", autouse=True)
def release_under_test() -> Iterator[str]:
    """Clients the project builds from the environment speak the release under test's style."""
    with pytest.MonkeyPatch.context() as env:
        if not RELEASES[TEST_RELEASE].accepts_json:
            env.setenv("PORTABILLING_LEGACY_API", "true")
        yield TEST_RELEASE
