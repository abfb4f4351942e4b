"""Exclusive, re-entrant locks on table folders, across threads and processes of one machine.

A read-modify-write of a table (an event-driven upsert) and a publish of the same table (a
snapshot) must not interleave, or one of them is lost. Each lock is an `flock` on a file beside the
data (local roots) or under the temporary directory (other fsspec roots: one machine only), plus a
per-process re-entrant lock so a holder may publish while it holds the lock.
"""

import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOCKS_DIR = "_locks"

_registry: dict[str, "_FileLock"] = {}
_registry_guard = threading.Lock()


class _FileLock:
    """One lock file: the outermost holder in the process holds the `flock`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None


def lock_path(root: str, folder: str, *, is_local: bool) -> str:
    """Where the lock file of a table folder lives."""
    name = hashlib.sha1(folder.encode()).hexdigest()[:16] + ".lock"
    if is_local:
        return os.path.join(root, LOCKS_DIR, name)
    scope = hashlib.sha1(root.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), "portabilling-locks", scope, name)


@contextmanager
def folder_lock(path: str) -> Iterator[None]:
    """Hold the lock at `path` (re-entrant within a thread, exclusive across processes)."""
    with _registry_guard:
        lock = _registry.setdefault(path, _FileLock(path))
    with lock.held():
        yield
