"""The durable event store: one SQLite file in WAL mode shared by the receiver, sensor and runs.

The file is private (0600, its WAL and shared-memory files too, in a folder others cannot write)
and holds no credentials: secret-named variables are dropped before an event is written.
"""

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from connector.api.statedir import check_folder
from connector.events.types import EntityRef, Event, StoredEvent
from connector.store.secret_names import secret_markers, without_secrets

DEFAULT_DATA_DIR = "./data"  # PORTABILLING_DATA_DIR's default
EVENTS_DB_NAME = "_events.sqlite3"  # the `_` keeps it out of the tables
DEFAULT_EVENTS_DB = os.path.join(DEFAULT_DATA_DIR, EVENTS_DB_NAME)
PENDING, CLAIMED, DONE, DEAD = "pending", "claimed", "done", "dead"
STATES = (PENDING, CLAIMED, DONE, DEAD)
# `in_table`: an append holding the event may have been published (MAYBE), or it was (YES).
MAYBE, YES = "maybe", "yes"
MAX_ERROR_CHARS = 300
# 1: the `dead` state with `error` and `dead_at`; no secret-named variables in stored rows.
# 2: `entity_kind` is the entity's table name (`accounts`, no longer `account`).
# 3: `entities`, a JSON array of `[kind, id]` (an event may name several; an id may be text),
#    replaces `entity_kind` and `entity_id`.
# 4: `in_table`, whether the event's row was appended to the events table (`maybe`, `yes`).
SCHEMA_VERSION = 4
# The kinds version 1 stored, by the table name they now go by.
_V1_KINDS = {"account": "accounts", "customer": "customers"}
# Version 0-2's one entity as a version 3 `entities` array (version 1's kinds renamed).
_KIND = "CASE entity_kind {} ELSE entity_kind END".format(
    " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in _V1_KINDS.items())
)
_V2_ENTITIES = (
    "CASE WHEN entity_kind IS NULL OR entity_id IS NULL THEN '[]'"
    f" ELSE json_array(json_array({_KIND}, entity_id)) END"
)

_TABLE = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    i_event INTEGER NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    variables TEXT NOT NULL,
    entities TEXT NOT NULL DEFAULT '[]',
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'claimed', 'done', 'dead')),
    run_id TEXT,
    claimed_at REAL,
    done_at REAL,
    error TEXT,
    dead_at REAL,
    in_table TEXT CHECK (in_table IN ('maybe', 'yes'))
)
"""
# One index, on state alone: its entries follow seq (the rowid) within a state, so the backlog
# reads oldest-first with no sort, and each row update touches just this one index.
_INDEX = "CREATE INDEX events_by_state ON events (state)"
_V0_COLUMNS = "seq, i_event, event_type, variables, received_at, state, run_id, claimed_at, done_at"

_INSERT = """
INSERT INTO events (i_event, event_type, variables, entities, received_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (i_event) DO NOTHING
"""

# A JSON array bound as one parameter: any number of ids in a single statement.
_IDS = "(SELECT value FROM json_each(?))"


def default_events_db_path(environ: Mapping[str, str] | None = None) -> str:
    """`PORTABILLING_EVENTS_DB`, else `_events.sqlite3` in the local `PORTABILLING_DATA_DIR`.

    A data root on object storage (`s3://...`) cannot hold SQLite: the variable is then required.
    """
    env = os.environ if environ is None else environ
    if env.get("PORTABILLING_EVENTS_DB"):
        return env["PORTABILLING_EVENTS_DB"]
    data_dir = env.get("PORTABILLING_DATA_DIR") or DEFAULT_DATA_DIR
    if "://" in data_dir:
        raise EventStoreConfigError(
            f"PORTABILLING_DATA_DIR is {data_dir!r}, not a local folder: set "
            "PORTABILLING_EVENTS_DB to a local path for the event store"
        )
    return os.path.join(data_dir, EVENTS_DB_NAME)


class EventStoreError(RuntimeError):
    """The event store cannot be used as configured."""


class EventStoreConfigError(EventStoreError, ValueError):
    """No usable event store path follows from the environment; the message names the variable."""


@dataclass(frozen=True)
class PendingBatch:
    """Pending events coalesced to the distinct entities they name."""

    entities: tuple[EntityRef, ...]
    i_events: tuple[int, ...]
    max_i_event: int | None

    @property
    def is_empty(self) -> bool:
        return not self.i_events

    def ids(self, kind: str) -> tuple[int | str, ...]:
        """The ids of one entity kind, ascending."""
        return tuple(ref.id for ref in self.entities if ref.kind == kind)


class DeadLetter(NamedTuple):
    """An event set aside because applying it failed: what it was, why and when."""

    i_event: int
    event_type: str
    error: str
    dead_at: datetime


@dataclass(frozen=True)
class PendingSummary:
    """The size of the backlog, without reading it."""

    count: int
    max_i_event: int | None


class EventStore:
    """Events and their state, durable on every commit.

    pending → claimed by a run → done; or → dead (with the error) when applying one fails for
    that event alone, until `requeue_dead` puts it back to pending.

    Thread-safe within a process (one connection behind a lock); safe across processes through
    SQLite's WAL locking. Every write is one short `BEGIN IMMEDIATE` transaction.
    """

    def __init__(
        self, path: str, *, busy_timeout_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        _create_private(path)
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
        # Deleted and rewritten rows are zeroed on disk, not left readable in free space.
        self._db.execute("PRAGMA secure_delete=ON")
        if self._upgrade():
            # The WAL of an older store may still hold rows with secrets: fold it in and empty it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _upgrade(self) -> bool:
        """Create the schema, or migrate an older store in place; whether a migration ran."""
        if self._version() >= SCHEMA_VERSION:  # the usual case: no write lock taken
            return False
        with self._write() as db:
            if self._version() >= SCHEMA_VERSION:  # another process got there first
                return False
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone()
            if exists and self._version() < 1:
                _migrate_v0(db)
            elif exists:
                if self._version() < 3:
                    _migrate_v2(db)
                _migrate_v3(db)
            else:
                db.execute(_TABLE)
                db.execute(_INDEX)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return bool(exists)

    def _version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

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
        sql = "SELECT i_event, entities FROM events WHERE state = ? ORDER BY seq LIMIT ?"
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
            " RETURNING i_event, entities"
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

    def requeue_done_since(self, since: float, kind: str) -> int:
        """Events of `kind` applied at or after `since` go back to pending; the number requeued.

        A snapshot that was scanning while they were applied may have published older state of
        their entities; applying them again re-reads the current state on top of it.
        """
        sql = (
            "UPDATE events SET state = ?, run_id = NULL, done_at = NULL"
            " WHERE state = ? AND done_at >= ?"
            " AND EXISTS (SELECT 1 FROM json_each(entities) WHERE json_extract(value, '$[0]') = ?)"
        )
        with self._write() as db:
            return db.execute(sql, (PENDING, DONE, since, kind)).rowcount

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
            "SELECT i_event, event_type, variables, entities, received_at, state,"
            f" run_id, in_table FROM events WHERE i_event IN {_IDS} ORDER BY i_event"
        )
        with self._read() as db:
            rows = db.execute(sql, (json.dumps(list(i_events)),)).fetchall()
        return [_stored_event(row) for row in rows]

    def mark_in_table(self, i_events: Sequence[int], in_table: str) -> int:
        """Record that the events' rows may be (`MAYBE`) or are (`YES`) in the events table."""
        if in_table not in (MAYBE, YES):
            raise ValueError(f"in_table must be {MAYBE!r} or {YES!r}")
        sql = f"UPDATE events SET in_table = ? WHERE i_event IN {_IDS}"
        with self._write() as db:
            return db.execute(sql, (in_table, json.dumps(list(i_events)))).rowcount

    def counts(self) -> dict[str, int]:
        """The number of events per state (every state present, zero included)."""
        sql = "SELECT state, count(*) FROM events GROUP BY state"
        with self._read() as db:
            found = dict(db.execute(sql).fetchall())
        return {state: found.get(state, 0) for state in STATES}

    def dead_letter(self, i_events: Sequence[int], error: str) -> int:
        """Set pending or claimed `i_events` aside as dead, with the reason; the number moved.

        `error` must be short and free of secrets: it is stored and shown as it is (cut to
        `MAX_ERROR_CHARS`, on one line).
        """
        sql = (
            "UPDATE events SET state = ?, error = ?, dead_at = ?, run_id = NULL,"
            f" claimed_at = NULL WHERE state IN (?, ?) AND i_event IN {_IDS}"
        )
        reason = " ".join(error.split())[:MAX_ERROR_CHARS]
        with self._write() as db:
            params = (DEAD, reason, self._clock(), PENDING, CLAIMED, json.dumps(list(i_events)))
            return db.execute(sql, params).rowcount

    def dead_letters(self) -> list[DeadLetter]:
        """The dead-lettered events with their error, oldest arrival first."""
        sql = "SELECT i_event, event_type, error, dead_at FROM events WHERE state = ? ORDER BY seq"
        with self._read() as db:
            rows = db.execute(sql, (DEAD,)).fetchall()
        return [_dead_letter(row) for row in rows]

    def requeue_dead(self, i_events: Sequence[int] | None = None) -> int:
        """Dead-lettered events (all, or those among `i_events`) back to pending; the number."""
        sql = "UPDATE events SET state = ?, error = NULL, dead_at = NULL WHERE state = ?"
        params: tuple[object, ...] = (PENDING, DEAD)
        if i_events is not None:
            sql += f" AND i_event IN {_IDS}"
            params += (json.dumps(list(i_events)),)
        with self._write() as db:
            return db.execute(sql, params).rowcount


def _sql_limit(limit: int | None) -> int:
    return -1 if limit is None else limit  # SQLite reads a negative LIMIT as "no limit"


def _batch(rows: list[tuple[int, str]]) -> PendingBatch:
    """Coalesce `(i_event, entities)` rows to distinct entities (by kind, then id)."""
    i_events = tuple(row[0] for row in rows)
    entities = {ref for _, text in rows for ref in _entities(text)}
    return PendingBatch(
        entities=tuple(
            sorted(entities, key=lambda ref: (ref.kind, isinstance(ref.id, str), ref.id))
        ),
        i_events=i_events,
        max_i_event=max(i_events, default=None),
    )


def _entities(text: str) -> tuple[EntityRef, ...]:
    """The stored `entities` array as references."""
    return tuple(EntityRef(kind, i) for kind, i in json.loads(text))


def _create_private(path: str) -> None:
    """Create the store file 0600 (its folder 0700 if absent); tighten an existing one.

    Refuses a folder other users can write: they could replace the file. SQLite gives the WAL
    and shared-memory files the database file's mode.
    """
    if path == ":memory:":
        raise EventStoreError("the event store must be a file: it is shared through WAL mode")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700)
    check_folder(os.path.realpath(folder), what="event store folder", refused_bits=0o022)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with suppress(FileNotFoundError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


def _migrate_v0(db: sqlite3.Connection) -> None:
    """Rebuild a first-version table (its CHECK lists the states) and scrub stored secrets."""
    db.execute("ALTER TABLE events RENAME TO events_v0")
    db.execute(_TABLE)
    db.execute(
        f"INSERT INTO events ({_V0_COLUMNS}, entities)"
        f" SELECT {_V0_COLUMNS}, {_V2_ENTITIES} FROM events_v0"
    )
    db.execute("DROP TABLE events_v0")
    db.execute(_INDEX)
    _mark_in_table(db)
    _scrub_secrets(db)


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Move a version 1 or 2 event's one entity into the `entities` array."""
    db.execute("ALTER TABLE events ADD COLUMN entities TEXT NOT NULL DEFAULT '[]'")
    db.execute(f"UPDATE events SET entities = {_V2_ENTITIES}")
    db.execute("ALTER TABLE events DROP COLUMN entity_kind")
    db.execute("ALTER TABLE events DROP COLUMN entity_id")


def _migrate_v3(db: sqlite3.Connection) -> None:
    """Add `in_table`."""
    db.execute("ALTER TABLE events ADD COLUMN in_table TEXT CHECK (in_table IN ('maybe', 'yes'))")
    _mark_in_table(db)


def _mark_in_table(db: sqlite3.Connection) -> None:
    """Before version 4 the events table was upserted: done events are in it, others may be."""
    sql = "UPDATE events SET in_table = CASE state WHEN ? THEN ? ELSE ? END"
    db.execute(sql, (DONE, YES, MAYBE))


def _scrub_secrets(db: sqlite3.Connection) -> None:
    """Drop secret-named variables from stored rows (SQL picks the rows that could hold one)."""
    markers = secret_markers()
    where = " OR ".join("variables LIKE ?" for _ in markers)
    sql = f"SELECT seq, variables FROM events WHERE {where}"
    for seq, text in db.execute(sql, [f"%{marker}%" for marker in markers]).fetchall():
        cleaned = _json(json.loads(text))
        if cleaned != text:
            db.execute("UPDATE events SET variables = ? WHERE seq = ?", (cleaned, seq))


def _json(variables: dict[str, Any]) -> str:
    """Stored variables: compact JSON with secret-named keys dropped at any depth."""
    return json.dumps(without_secrets(variables), separators=(",", ":"))


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    i_event, event_type, error, dead_at = row
    return DeadLetter(i_event, event_type, error, datetime.fromtimestamp(dead_at, UTC))


def _insert_row(event: Event) -> tuple[object, ...]:
    return (
        event.i_event,
        event.event_type,
        _json(event.variables),
        json.dumps(event.entities, separators=(",", ":")),
        event.received_at.timestamp(),
    )


def _stored_event(row: tuple[Any, ...]) -> StoredEvent:
    i_event, event_type, variables, entities, received_at, state, run_id, in_table = row
    return StoredEvent(
        i_event=i_event,
        event_type=event_type,
        variables=json.loads(variables),
        entities=_entities(entities),
        received_at=datetime.fromtimestamp(received_at, UTC),
        state=state,
        run_id=run_id,
        in_table=in_table,
    )
