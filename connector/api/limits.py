"""At most N requests in flight to one server, over every thread and process of a machine.

Each of the N slots is a lock file under the state folder, keyed by the server URL. A request
holds one slot: it takes the first free one (non-blocking `flock`), or queues on one when all are
busy. The kernel drops a dead process's locks, so a killed step never leaks a slot. Across
machines (Kubernetes pods) the bound comes from the Dagster pool instead: see docs/deploy.md.
"""

import contextlib
import fcntl
import hashlib
import os
import random
import threading
from collections.abc import Iterator

from connector.api.statedir import default_state_dir, private_dir

SLOTS_DIR = "slots"


class _Slot:
    """One lock file, opened once per process; the thread lock keeps threads from sharing it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.thread_lock = threading.Lock()
        self._fd: int | None = None

    def try_take(self) -> bool:
        """Take the slot if it is free in this process and in every other one."""
        if not self.thread_lock.acquire(blocking=False):
            return False
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.thread_lock.release()
            return False
        return True

    def take(self) -> None:
        """Wait for the slot."""
        self.thread_lock.acquire()
        fcntl.flock(self._descriptor(), fcntl.LOCK_EX)

    def give_back(self) -> None:
        """Free the slot for the next request of any process."""
        fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        self.thread_lock.release()

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        return self._fd


class ServerSlots:
    """A counting semaphore of `limit` slots for one server URL, shared by processes via `flock`."""

    def __init__(self, url: str, limit: int, state_dir: str | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        scope = hashlib.sha256(url.encode()).hexdigest()[:16]
        folder = private_dir(state_dir or default_state_dir(), SLOTS_DIR, scope)
        self.limit = limit
        self._slots = [_Slot(os.path.join(folder, f"slot-{i:03d}")) for i in range(limit)]

    def __repr__(self) -> str:
        return f"ServerSlots(limit={self.limit})"

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the duration of the block (one request)."""
        slot = self._take()
        try:
            yield
        finally:
            slot.give_back()

    def _take(self) -> _Slot:
        # Start at a random slot so processes do not all contend for slot 0.
        start = random.randrange(self.limit)
        order = self._slots[start:] + self._slots[:start]
        for slot in order:
            if slot.try_take():
                return slot
        order[0].take()
        return order[0]


_shared: dict[tuple[str, int, str], ServerSlots] = {}
_shared_guard = threading.Lock()


def server_slots(url: str, limit: int, state_dir: str | None = None) -> ServerSlots:
    """The process-wide `ServerSlots` of a server, so every client of the process shares it."""
    with _shared_guard:
        key = (url, limit, state_dir or default_state_dir())
        if key not in _shared:
            _shared[key] = ServerSlots(url, limit, key[2])
        return _shared[key]
