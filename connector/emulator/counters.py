"""What the emulator has served, for tests and benchmarks to assert on."""

import threading
from dataclasses import dataclass, field


@dataclass
class Counters:
    """Thread-safe tallies; `requests` is keyed by `"Service/method"`."""

    requests: dict[str, int] = field(default_factory=dict)
    total_requests: int = 0
    logins: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    faults: int = 0
    transient_errors: int = 0
    throttled: int = 0
    retry_after_ignored: int = 0
    max_in_flight: int = 0
    in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, name: str) -> None:
        """Tally one request to `name` ("Service/method")."""
        with self._lock:
            self.requests[name] = self.requests.get(name, 0) + 1
            self.total_requests += 1

    def add(self, name: str, amount: int = 1) -> None:
        """Add to one of the integer tallies by name."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def enter(self) -> None:
        """A request started; track the concurrency high-water mark."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        """A request finished."""
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        """Zero every tally except the live `in_flight`."""
        with self._lock:
            self.requests = {}
            for name in _TALLIES:
                setattr(self, name, 0)
            self.max_in_flight = self.in_flight


_TALLIES = (
    "total_requests",
    "logins",
    "refreshes",
    "refresh_failures",
    "faults",
    "transient_errors",
    "throttled",
    "retry_after_ignored",
)
