"""A lock held as a lease on one object of an object store, for writers on different machines.

Acquire creates the lease object only if it is absent; its body names the owner, the lease's
time to live and when it expires. A heartbeat thread renews it every third of the TTL by a
conditional overwrite (`If-Match` on the ETag it holds), so every renewal is a new version.
A waiter takes over a lease whose version it has watched stay the same for a whole TTL on its
own clock (the holder stopped renewing: it died or stalled), by the same conditional overwrite:
of two waiters only one wins. Timing the TTL on the waiter's clock needs no agreement between
the machines' clocks. Release deletes the object only while it is still at the ETag we wrote.

A holder that could not renew for a whole TTL may have been taken over; `check` (before each
publish) and `release` then raise `LockLost` instead of letting the run pass as if it held it.
"""

import itertools
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connector.store.conditional import S3Objects, Version

TTL_S = 60.0
# Waits start short (most writes hold a table's lock briefly) and back off to this.
MAX_POLL_S = 1.0
FIRST_POLL_S = 0.05
# A holder publishes only while its lease has this share of the TTL left (time for the publish):
# one missed heartbeat still passes, a lease about to lapse does not.
MARGIN = 1 / 6


class TableLockError(RuntimeError):
    """A table's lock could not be taken or kept."""


class LockTimeout(TableLockError):
    """Another writer held the table's lock for the whole wait: retry later."""


class LockUnsupported(TableLockError):
    """The filesystem cannot keep writers on different machines apart: configure another format."""


class LockLost(TableLockError):
    """The lease lapsed and another writer may have taken it: the run must be redone."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as its object says."""

    owner: str
    ttl_s: float
    expires: str

    @classmethod
    def from_body(cls, body: bytes) -> "Holder":
        """The holder a lease object names (an unreadable body: an unknown owner, our TTL)."""
        try:
            fields = json.loads(body)
            return cls(str(fields["owner"]), float(fields["ttl_s"]), str(fields["expires"]))
        except (ValueError, KeyError, TypeError):
            return cls("unknown", TTL_S, "unknown")


def new_owner_id() -> str:
    """This host and process, plus a nonce: unique per acquisition."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease on one lock object; `acquire` waits at most `timeout_s`."""

    def __init__(
        self,
        objects: S3Objects,
        path: str,
        *,
        table: str,
        timeout_s: float,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.objects = objects
        self.path = path
        self.table = table
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.clock = clock
        self.sleep = sleep
        self.owner = ""
        self._etag: str | None = None
        self._valid_until = 0.0
        self._guard = threading.Lock()
        self._heartbeat: _Heartbeat | None = None

    def acquire(self) -> None:
        """Take the lease, waiting up to `timeout_s` for its holder to release or lose it."""
        self.owner = new_owner_id()
        deadline = self.clock() + self.timeout_s
        watched: tuple[str, float] | None = None
        for attempt in itertools.count():
            sent = self.clock()
            current = self._try_create()
            if current is None:
                break
            watched = _watch(watched, current.etag, sent)
            if sent - watched[1] >= Holder.from_body(current.body).ttl_s:
                if self._take_over(current.etag):
                    break
            elif sent >= deadline:
                raise self._timeout(Holder.from_body(current.body))
            else:
                self.sleep(min(_backoff(attempt), deadline - sent))
        self._start(sent)

    def renew(self) -> bool:
        """Extend the lease by one TTL; False once it is lost."""
        with self._guard:
            if self._etag is None:
                return False
            sent = self.clock()
            etag = self.objects.replace(self.path, self._body(), self._etag)
            if etag is None:
                self._etag = None
                return False
            self._etag, self._valid_until = etag, sent + self.ttl_s
            return True

    def check(self) -> None:
        """Raise `LockLost` unless the lease stays ours for at least `MARGIN` of its TTL."""
        with self._guard:
            if self._etag is None or self.clock() > self._valid_until - self.ttl_s * MARGIN:
                raise LockLost(f"{self.table}: the table lock's lease lapsed ({self.owner})")

    def release(self) -> None:
        """Stop renewing and delete the lease object, only if it is still ours."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        with self._guard:
            etag, self._etag = self._etag, None
        current = self.objects.read(self.path)
        if etag is None or current is None or current.etag != etag:
            raise self._taken_over(current)
        if not self.objects.delete(self.path, etag):
            raise self._taken_over(self.objects.read(self.path))

    def _taken_over(self, current: Version | None) -> LockLost:
        """The error of a release that found the lease another writer's."""
        holder = Holder.from_body(current.body).owner if current else "nobody"
        return LockLost(
            f"{self.table}: the table lock was taken over while {self.owner} held it "
            f"(now held by {holder}); not releasing it, and this run's writes may have "
            "overlapped another writer's"
        )

    def _try_create(self) -> Version | None:
        """Create the lease object; the version in the way if another writer holds it."""
        while True:
            etag = self.objects.create(self.path, self._body())
            if etag is not None:
                self._etag = etag
                return None
            current = self.objects.read(self.path)
            if current is None:
                continue  # released in between: try again at once
            if Holder.from_body(current.body).owner == self.owner:
                self._etag = current.etag  # our create succeeded; its answer was lost and retried
                return None
            return current

    def _take_over(self, etag: str) -> bool:
        """Overwrite an expired lease, unless another waiter or its holder got there first."""
        new_etag = self.objects.replace(self.path, self._body(), etag)
        self._etag = new_etag
        return new_etag is not None

    def _start(self, sent: float) -> None:
        """Held since before the request that took it: valid one TTL from then, kept renewed."""
        self._valid_until = sent + self.ttl_s
        self._heartbeat = _Heartbeat(self, self.ttl_s / 3)

    def _body(self) -> bytes:
        """Owner, TTL and expiry (wall clock, for people): each renewal's bytes differ."""
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        fields = {"owner": self.owner, "ttl_s": self.ttl_s, "expires": expires.isoformat()}
        return json.dumps(fields).encode()

    def _timeout(self, holder: Holder) -> LockTimeout:
        """The error of a wait that ran out, naming the table and who holds its lock."""
        return LockTimeout(
            f"{self.table}: gave up waiting for the table lock after {self.timeout_s:g} s "
            f"(PORTABILLING_LOCK_TIMEOUT_S); held by {holder.owner}, lease until {holder.expires}"
        )


class _Heartbeat:
    """A daemon thread renewing a lease every `interval_s` until stopped or lost."""

    def __init__(self, lease: Lease, interval_s: float) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(lease, interval_s), name="table-lock-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and wait for a renewal in flight."""
        self._stopped.set()
        self._thread.join()

    def _run(self, lease: Lease, interval_s: float) -> None:
        while not self._stopped.wait(interval_s):
            try:
                if not lease.renew():
                    return
            except OSError:
                continue  # the store was unreachable: the next beat tries again before expiry


def _watch(watched: tuple[str, float] | None, etag: str, now: float) -> tuple[str, float]:
    """The version being watched and since when: restarted whenever the version changes."""
    return watched if watched is not None and watched[0] == etag else (etag, now)


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped."""
    return min(MAX_POLL_S, FIRST_POLL_S * 2**attempt) * random.uniform(0.5, 1.0)
