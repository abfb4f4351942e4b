"""The event store at rest: no credentials in its bytes, owner-only modes, old stores migrated."""

import json
import sqlite3
from pathlib import Path

import pytest
from espf_helpers import basic_header, delivery, make_event, post

from connector.api.errors import ConfigurationError
from connector.events import DEAD, EntityRef, EventStore
from connector.events.receiver import EventReceiver

SECRETS = ("pw-Hunter2-xyz", "sip-pw-Sekrit-77", "tok-Nested-abc123")
SECRET_VARIABLES = {
    "password": SECRETS[0],
    "h323_password": SECRETS[1],
    "service_features": [{"name": "api", "settings": {"api_token": SECRETS[2]}}],
}

# The first schema, as stores written before the dead-letter state have it.
V0_SCHEMA = """
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
CREATE INDEX IF NOT EXISTS events_by_state ON events (state);
"""
V0_ROWS = [
    (1, "Subscriber/Updated", {"i_event": 1, "i_account": 7, **SECRET_VARIABLES}, "pending", None),
    (2, "Customer/Updated", {"i_event": 2, "i_customer": 3}, "claimed", "run-a"),
    (3, "DID/Created", {"i_event": 3, "number": "555"}, "done", None),
]


def store_bytes(db_path: str) -> bytes:
    """The database file and whatever WAL sits beside it."""
    files = (Path(db_path), Path(f"{db_path}-wal"))
    return b"".join(path.read_bytes() for path in files if path.exists())


def mode(path: str | Path) -> int:
    return Path(path).stat().st_mode & 0o777


def write_v0_store(path: Path) -> sqlite3.Connection:
    """A store as the first schema wrote it, left open with its rows still in the WAL."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(V0_SCHEMA)
    for i_event, event_type, variables, state, run_id in V0_ROWS:
        db.execute(
            "INSERT INTO events (i_event, event_type, variables, received_at, state, run_id)"
            " VALUES (?, ?, ?, 0, ?, ?)",
            (i_event, event_type, json.dumps(variables, separators=(",", ":")), state, run_id),
        )
    path.chmod(0o644)
    return db


def test_added_events_keep_no_secret_variables(store: EventStore, db_path: str) -> None:
    store.add(make_event(1, i_account=7, **SECRET_VARIABLES))
    [event] = store.events([1])
    assert event.variables == {
        "i_event": 1,
        "i_account": 7,
        "service_features": [{"name": "api", "settings": {}}],
    }
    stored = store_bytes(db_path)
    assert not [secret for secret in SECRETS if secret.encode() in stored]


def test_posted_secrets_never_reach_the_file(
    basic_receiver: EventReceiver, store: EventStore, db_path: str
) -> None:
    response = post(basic_receiver.url, delivery(1, **SECRET_VARIABLES), basic_header())
    assert response.status_code == 200
    assert [event.i_event for event in store.events([1])] == [1]
    stored = store_bytes(db_path)
    assert not [secret for secret in SECRETS if secret.encode() in stored]


def test_the_store_and_its_wal_are_owner_only(store: EventStore, db_path: str) -> None:
    store.add(make_event(1))
    assert [mode(p) for p in (db_path, f"{db_path}-wal", f"{db_path}-shm")] == [0o600] * 3


def test_a_missing_folder_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "events.sqlite3"
    with EventStore(str(path)):
        pass
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)


@pytest.mark.parametrize("folder_mode", [0o777, 0o775, 0o757])
def test_a_folder_others_can_write_is_refused(tmp_path: Path, folder_mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(folder_mode)
    with pytest.raises(ConfigurationError, match=f"{folder} is open to other users .*chmod"):
        EventStore(str(folder / "events.sqlite3"))
    assert not (folder / "events.sqlite3").exists()


def test_a_folder_others_can_only_read_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "readable"
    folder.mkdir()
    folder.chmod(0o755)
    with EventStore(str(folder / "events.sqlite3")) as store:
        store.add(make_event(1))
    assert mode(folder / "events.sqlite3") == 0o600


def test_an_old_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    old = write_v0_store(path)
    with EventStore(str(path)) as store:
        events = store.events([1, 2, 3])
        assert [(e.i_event, e.state, e.run_id) for e in events] == [
            (1, "pending", None),
            (2, "claimed", "run-a"),
            (3, "done", None),
        ]
        assert events[0].variables == {
            "i_event": 1,
            "i_account": 7,
            "service_features": [{"name": "api", "settings": {}}],
        }
        assert store.dead_letter([1], "bad") == 1
        assert store.counts()[DEAD] == 1
    stored = store_bytes(str(path))  # the old writer still open: its WAL is not cleaned up
    old.close()
    assert not [secret for secret in SECRETS if secret.encode() in stored]
    assert mode(path) == 0o600


def test_reopening_a_migrated_store_keeps_it_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    write_v0_store(path).close()
    with EventStore(str(path)) as store:
        store.dead_letter([1], "bad")
    with EventStore(str(path)) as reopened:
        assert [dead.i_event for dead in reopened.dead_letters()] == [1]
        assert len(reopened.events([1, 2, 3])) == 3


def write_v1_store(path: Path, version: int, rows: list[tuple[int, str, str, int]]) -> None:
    """A store as versions 1 and 2 wrote it: one `entity_kind` and `entity_id` per event."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(V0_SCHEMA.replace("'done')", "'done', 'dead')"))
    db.execute("ALTER TABLE events ADD COLUMN error TEXT")
    db.execute("ALTER TABLE events ADD COLUMN dead_at REAL")
    for i_event, event_type, kind, entity_id in rows:
        db.execute(
            "INSERT INTO events (i_event, event_type, variables, entity_kind, entity_id,"
            " received_at) VALUES (?, ?, '{}', ?, ?, 0)",
            (i_event, event_type, kind, entity_id),
        )
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


def test_a_version_1_store_keeps_its_pending_entities(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    write_v1_store(path, 1, [(1, "Subscriber/Updated", "account", 7)])
    with EventStore(str(path)) as store:
        assert store.pending_entities().entities == (EntityRef("accounts", 7),)


def test_a_version_2_store_keeps_its_pending_entities(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    rows = [(1, "Customer/Updated", "customers", 3), (2, "DID/Created", None, None)]
    write_v1_store(path, 2, rows)
    with EventStore(str(path)) as store:
        assert store.pending_entities().entities == (EntityRef("customers", 3),)
        assert [event.entities for event in store.events([1, 2])] == [
            (EntityRef("customers", 3),),
            (),
        ]
        store.add(make_event(3, "DID/Created", number="+4401"))
        assert store.events([3])[0].entities == (EntityRef("dids", "+4401"),)
