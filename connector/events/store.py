"""The durable event store: one SQLite file in WAL mode shared by the receiver, sensor and runs."""

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from connector.events.types import EntityKind, Event, StoredEvent

DEFAULT_EVENTS_DB = "./data/_events.sqlite3"
PENDING, CLAIMED, DONE = "pending", "claimed", "done"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    i_event INTEGER NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    variables TEXT NOT NULL,
    entity_kind TEXT,
    entity_id INTEGER,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done')),
    run_id TEXT,
    claimed_at REAL,
    done_at REAL
);
-- One index, on state alone: its entries follow seq (the rowid) within a state, so the backlog
-- reads oldest-first with no sort, and each row update touches just this one index.
CREATE INDEX IF NOT EXISTS events_by_state ON events (state);
"""

_INSERT = """
INSERT INTO events (i_event, event_type, variables, entity_kind, entity_id, received_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (i_event) DO NOTHING
"""

# A JSON array bound as one parameter: any number of ids in a single statement.
_IDS = "(SELECT value FROM json_each(?))"


def default_events_db_path(environ: dict[str, str] | None = None) -> str:
    """`PORTABILLING_EVENTS_DB`, else `./data/_events.sqlite3` (the `_` keeps it out of tables)."""
    env = os.environ if environ is None else environ
    return env.get("PORTABILLING_EVENTS_DB") or DEFAULT_EVENTS_DB


class EventStoreError(RuntimeError):
    """The event store cannot be used as configured."""


class EntityRef(NamedTuple):
    """An entity to re-read: `(kind, id)`."""

    kind: EntityKind
    id: int


@dataclass(frozen=True)
class PendingBatch:
    """Pending events coalesced to the distinct entities they name."""

    entities: tuple[EntityRef, ...]
    i_events: tuple[int, ...]
    max_i_event: int | None

    @property
    def is_empty(self) -> bool:
        return not self.i_events

    def ids(self, kind: EntityKind) -> tuple[int, ...]:
        """The ids of one entity kind, ascending."""
        return tuple(ref.id for ref in self.entities if ref.kind == kind)


@dataclass(frozen=True)
class PendingSummary:
    """The size of the backlog, without reading it."""

    count: int
    max_i_event: int | None


class EventStore:
    """Events and their state (pending → claimed by a run → done), durable on every commit.

    Thread-safe within a process (one connection behind a lock); safe across processes through
    SQLite's WAL locking. Every write is one short `BEGIN IMMEDIATE` transaction.
    """

    def __init__(
        self, path: str, *, busy_timeout_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":  # e.g. a network file system: sharing across processes is unsafe there
            self._db.close()
            raise EventStoreError(f"the event store {path} cannot use WAL mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so an acknowledged event survives power loss.
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")

    def __repr__(self) -> str:
        return f"EventStore({self.path!r})"

    def __enter__(self) -> "EventStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, locked up front so concurrent writers queue, never deadlock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT must not leave it open
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def add(self, event: Event) -> bool:
        """Store one event durably; False if its `i_event` was already stored."""
        return self.add_many([event])[0]

    def add_many(self, events: Iterable[Event]) -> list[bool]:
        """Store events in one durable transaction; per event, False if a duplicate `i_event`."""
        with self._write() as db:
            return [db.execute(_INSERT, _insert_row(event)).rowcount == 1 for event in events]

    def pending_entities(self, limit: int | None = None) -> PendingBatch:
        """The oldest `limit` pending events (all if None), coalesced to distinct entities."""
        sql = (
            "SELECT i_event, entity_kind, entity_id FROM events WHERE state = ?"
            " ORDER BY seq LIMIT ?"
        )
        with self._read() as db:
            return _batch(db.execute(sql, (PENDING, _sql_limit(limit))).fetchall())

    def pending_summary(self) -> PendingSummary:
        """How many events are pending and the highest pending `i_event` (cheap: one aggregate)."""
        sql = "SELECT count(*), max(i_event) FROM events WHERE state = ?"
        with self._read() as db:
            count, max_i_event = db.execute(sql, (PENDING,)).fetchone()
        return PendingSummary(count=count, max_i_event=max_i_event)

    def claim_pending(self, run_id: str, limit: int | None = None) -> PendingBatch:
        """Atomically claim the oldest `limit` pending events (all if None) for `run_id`."""
        sql = (
            "UPDATE events SET state = ?, run_id = ?, claimed_at = ? WHERE seq IN"
            " (SELECT seq FROM events WHERE state = ? ORDER BY seq LIMIT ?)"
            " RETURNING i_event, entity_kind, entity_id"
        )
        with self._write() as db:
            params = (CLAIMED, run_id, self._clock(), PENDING, _sql_limit(limit))
            return _batch(db.execute(sql, params).fetchall())

    def claim(self, i_events: Sequence[int], run_id: str) -> int:
        """Mark those of `i_events` still pending as claimed by `run_id`; the number claimed."""
        sql = (
            f"UPDATE events SET state = ?, run_id = ?, claimed_at = ?"
            f" WHERE state = ? AND i_event IN {_IDS}"
        )
        with self._write() as db:
            params = (CLAIMED, run_id, self._clock(), PENDING, json.dumps(list(i_events)))
            return db.execute(sql, params).rowcount

    def complete(self, run_id: str) -> int:
        """The run applied its events: claimed by `run_id` → done; the number completed."""
        sql = (
            "UPDATE events SET state = ?, claimed_at = NULL, done_at = ?"
            " WHERE state = ? AND run_id = ?"
        )
        with self._write() as db:
            return db.execute(sql, (DONE, self._clock(), CLAIMED, run_id)).rowcount

    def requeue_done_since(self, since: float, kind: EntityKind) -> int:
        """Events of `kind` applied at or after `since` go back to pending; the number requeued.

        A snapshot that was scanning while they were applied may have published older state of
        their entities; applying them again re-reads the current state on top of it.
        """
        sql = (
            "UPDATE events SET state = ?, run_id = NULL, done_at = NULL"
            " WHERE state = ? AND done_at >= ? AND entity_kind = ?"
        )
        with self._write() as db:
            return db.execute(sql, (PENDING, DONE, since, kind.value)).rowcount

    def release(self, run_id: str) -> int:
        """The run failed: its claimed events go back to pending; the number released."""
        sql = (
            "UPDATE events SET state = ?, run_id = NULL, claimed_at = NULL"
            " WHERE state = ? AND run_id = ?"
        )
        with self._write() as db:
            return db.execute(sql, (PENDING, CLAIMED, run_id)).rowcount

    def release_stale(self, max_age_s: float) -> int:
        """Release claims older than `max_age_s`: their run died without completing or releasing."""
        sql = (
            "UPDATE events SET state = ?, run_id = NULL, claimed_at = NULL"
            " WHERE state = ? AND claimed_at < ?"
        )
        with self._write() as db:
            return db.execute(sql, (PENDING, CLAIMED, self._clock() - max_age_s)).rowcount

    def prune_done(self, older_than_s: float) -> int:
        """Delete done events received more than `older_than_s` ago; the number deleted.

        Keep them past ESPF's retry window: a pruned `i_event` redelivered would count as new.
        """
        sql = "DELETE FROM events WHERE state = ? AND received_at < ?"
        with self._write() as db:
            return db.execute(sql, (DONE, self._clock() - older_than_s)).rowcount

    def claimed_runs(self) -> dict[str, int]:
        """Run ids holding claims, with how many events each holds."""
        sql = "SELECT run_id, count(*) FROM events WHERE state = ? GROUP BY run_id"
        with self._read() as db:
            return dict(db.execute(sql, (CLAIMED,)).fetchall())

    def events(self, i_events: Sequence[int]) -> list[StoredEvent]:
        """The stored events among `i_events`, ordered by `i_event`."""
        sql = (
            "SELECT i_event, event_type, variables, entity_kind, entity_id, received_at, state,"
            f" run_id FROM events WHERE i_event IN {_IDS} ORDER BY i_event"
        )
        with self._read() as db:
            rows = db.execute(sql, (json.dumps(list(i_events)),)).fetchall()
        return [_stored_event(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """The number of events per state (every state present, zero included)."""
        sql = "SELECT state, count(*) FROM events GROUP BY state"
        with self._read() as db:
            found = dict(db.execute(sql).fetchall())
        return {state: found.get(state, 0) for state in (PENDING, CLAIMED, DONE)}


def _sql_limit(limit: int | None) -> int:
    return -1 if limit is None else limit  # SQLite reads a negative LIMIT as "no limit"


def _batch(rows: list[tuple[int, str | None, int | None]]) -> PendingBatch:
    """Coalesce `(i_event, entity_kind, entity_id)` rows to distinct entities."""
    i_events = tuple(row[0] for row in rows)
    distinct = {(kind, eid) for _, kind, eid in rows if kind is not None and eid is not None}
    entities = {EntityRef(EntityKind(kind), eid) for kind, eid in distinct}
    return PendingBatch(
        entities=tuple(sorted(entities)),
        i_events=i_events,
        max_i_event=max(i_events, default=None),
    )


def _insert_row(event: Event) -> tuple[object, ...]:
    return (
        event.i_event,
        event.event_type,
        json.dumps(event.variables, separators=(",", ":")),
        event.entity_kind.value if event.entity_kind else None,
        event.entity_id,
        event.received_at.timestamp(),
    )


def _stored_event(row: tuple[Any, ...]) -> StoredEvent:
    i_event, event_type, variables, kind, entity_id, received_at, state, run_id = row
    return StoredEvent(
        i_event=i_event,
        event_type=event_type,
        variables=json.loads(variables),
        entity_kind=EntityKind(kind) if kind is not None else None,
        entity_id=entity_id,
        received_at=datetime.fromtimestamp(received_at, UTC),
        state=state,
        run_id=run_id,
    )
