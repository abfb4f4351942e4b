"""Exclusive, re-entrant locks on table folders: across machines on S3, across processes locally.

A read-modify-write of a table (an event-driven upsert) and a publish of the same table (a
snapshot) must not interleave, or one of them is lost. The lock of a table folder is
`<root>/_locks/<hash>.lock`, held as
- an `flock` on that file for a local root (the kernel drops a dead process's lock);
- a lease on that object for an `s3://` root (`connector/store/leases.py`), once the store has
  shown it honours conditional writes: writers on different machines are serialized;
- nothing more than the in-process lock for `memory://`, whose data lives in this process only.
Any other filesystem offers no conditional create, so writes to it are refused (`LockUnsupported`)
rather than left unserialized. A per-process re-entrant lock comes on top, so a holder may publish
while it holds the lock; re-entering checks that a lease is still safely held.
"""

import fcntl
import hashlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from connector.api.errors import ConfigurationError
from connector.store.conditional import S3Objects, conditions_honoured
from connector.store.leases import Lease, LockUnsupported

LOCKS_DIR = "_locks"
TIMEOUT_ENV = "PORTABILLING_LOCK_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0
ALTERNATIVE = "write these tables with PORTABILLING_TABLE_FORMAT=delta instead (docs/scale-out.md)"

_registry: dict[str, "_ReentrantLock"] = {}
_registry_guard = threading.Lock()
_honouring_roots: set[str] = set()


class Mutex(Protocol):
    """One acquisition of a lock that excludes other processes (and machines, where it can)."""

    def acquire(self) -> None:
        """Wait until this process holds the lock."""

    def check(self) -> None:
        """Raise unless the lock is still safely held (before a publish under it)."""

    def release(self) -> None:
        """Let the next writer have it."""


class _ReentrantLock:
    """The outermost holder in the process acquires a fresh `Mutex`; nested holders re-enter."""

    def __init__(self, new_mutex: Callable[[], Mutex]) -> None:
        self._new_mutex = new_mutex
        self._local = threading.RLock()
        self._depth = 0
        self._mutex: Mutex | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._mutex is None:
                mutex = self._new_mutex()
                mutex.acquire()
                self._mutex = mutex
            else:
                self._mutex.check()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    mutex, self._mutex = self._mutex, None
                    mutex.release()


class _Flock:
    """An `flock` on a local file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Wait for the `flock`, creating the lock file if needed."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def check(self) -> None:
        """An `flock` cannot lapse."""

    def release(self) -> None:
        """Unlock and close the file (it stays, for the next writer)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class _InProcess:
    """Nothing beyond the in-process lock: for data that lives in this process."""

    def acquire(self) -> None:
        """The in-process lock is already held."""

    def check(self) -> None:
        """Cannot lapse."""

    def release(self) -> None:
        """Nothing to release."""


class _Refused:
    """A lock that cannot be had on this filesystem: every acquisition says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def acquire(self) -> None:
        raise LockUnsupported(self.reason)

    def check(self) -> None:
        """Never held."""

    def release(self) -> None:
        """Never held."""


def folder_lock(fs: Any, root: str, folder: str) -> AbstractContextManager[None]:
    """Hold the lock of table `folder` under `root` (re-entrant within a thread)."""
    path = lock_path(root, folder)
    identity = fs.unstrip_protocol(path)
    with _registry_guard:
        lock = _registry.get(identity)
        if lock is None:
            lock = _registry[identity] = _ReentrantLock(_mutex_factory(fs, root, folder, path))
    return lock.held()


def lock_path(root: str, folder: str) -> str:
    """Where the lock of a table folder lives."""
    return f"{root}/{LOCKS_DIR}/{hashlib.sha1(folder.encode()).hexdigest()[:16]}.lock"


def lock_timeout_s() -> float:
    """`$PORTABILLING_LOCK_TIMEOUT_S`, the longest wait for a table's lock (default 600)."""
    configured = os.environ.get(TIMEOUT_ENV, "")
    try:
        timeout = float(configured) if configured else DEFAULT_TIMEOUT_S
    except ValueError:
        timeout = math.nan
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ConfigurationError(
            f"{TIMEOUT_ENV} must be a finite number of seconds (0 or more), not {configured!r}"
        )
    return timeout


def _mutex_factory(fs: Any, root: str, folder: str, path: str) -> Callable[[], Mutex]:
    """How this filesystem excludes other writers of a folder."""
    if isinstance(fs, LocalFileSystem):
        return lambda: _Flock(path)
    if isinstance(fs, MemoryFileSystem):
        return _InProcess
    uri = fs.unstrip_protocol(root)
    if not _is_s3(fs):
        reason = f"{type(fs).__name__} offers no conditional create"
        return lambda: _Refused(_refusal(uri, reason))
    objects = S3Objects(fs)
    table = fs.unstrip_protocol(folder)

    def new_lease() -> Mutex:
        _require_conditions(objects, root, uri)
        return Lease(objects, path, table=table, timeout_s=lock_timeout_s())

    return new_lease


def _is_s3(fs: Any) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
    return "s3" in protocols and hasattr(fs, "call_s3")


def _require_conditions(objects: S3Objects, root: str, uri: str) -> None:
    """Refuse a store that ignores conditional writes (checked once per root and process)."""
    if root in _honouring_roots:
        return
    if not conditions_honoured(objects, f"{root}/{LOCKS_DIR}"):
        raise LockUnsupported(_refusal(uri, "the object store ignores conditional writes"))
    _honouring_roots.add(root)


def _refusal(uri: str, reason: str) -> str:
    return (
        f"writes to {uri} refused: {reason} (If-None-Match / If-Match), so a table lock "
        f"cannot keep writers on different machines apart; {ALTERNATIVE}"
    )
