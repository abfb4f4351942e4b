"""`portabilling events dead-letter [--requeue] [--db PATH]`: output and exit codes."""

from pathlib import Path
from typing import Any

import pytest
from espf_helpers import make_event

from connector.events import DEAD, PENDING, EventStore
from tests.test_cli import portabilling


@pytest.fixture
def dead_store(db_path: str, clock: Any) -> str:
    """A store with one applied-to-be event and two dead letters, one with a hostile type."""
    with EventStore(db_path, clock=clock) as store:
        store.add_many([make_event(1), make_event(2), make_event(3, "Foo/\x1b[2Jclear")])
        store.dead_letter([2], "re-read: FaultError: Account/get_account_info: broken")
        store.dead_letter([3], "events row: OverflowError: too large")
    return db_path


def test_lists_each_dead_letter_with_type_time_and_error(dead_store: str) -> None:
    result = portabilling("events", "dead-letter", "--db", dead_store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "i_event\tevent_type\tdead_at (UTC)\terror",
        "2\tSubscriber/Updated\t2026-05-28 20:26:40\t"
        "re-read: FaultError: Account/get_account_info: broken",
        "3\tFoo/\\x1b[2Jclear\t2026-05-28 20:26:40\tevents row: OverflowError: too large",
    ]
    with EventStore(dead_store) as store:
        assert store.counts()[DEAD] == 2


def test_requeue_puts_the_listed_events_back_to_pending(dead_store: str) -> None:
    result = portabilling("events", "dead-letter", "--requeue", "--db", dead_store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("requeued 2 events to pending")
    with EventStore(dead_store) as store:
        assert (store.counts()[DEAD], store.counts()[PENDING]) == (0, 3)


def test_the_store_path_comes_from_the_environment(
    dead_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTABILLING_EVENTS_DB", dead_store)
    result = portabilling("events", "dead-letter")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


def test_an_empty_dead_letter_list_says_so(store: EventStore, db_path: str) -> None:
    store.add(make_event(1))
    result = portabilling("events", "dead-letter", "--requeue", "--db", db_path)
    assert (result.returncode, result.stdout) == (0, "no dead-lettered events\n")


@pytest.mark.parametrize(
    "args",
    [("events",), ("events", "bury"), ("events", "dead-letter", "--requeue=yes")],
)
def test_bad_usage_exits_2_with_one_line(args: tuple[str, ...]) -> None:
    result = portabilling(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_missing_store_is_a_configuration_error_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.sqlite3"
    result = portabilling("events", "dead-letter", "--db", str(path))
    assert result.returncode == 2
    assert f"no event store at {path}" in result.stderr
    assert not path.exists()


def test_a_store_in_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    with EventStore(str(folder / "events.sqlite3")):
        pass
    folder.chmod(0o777)
    result = portabilling("events", "dead-letter", "--db", str(folder / "events.sqlite3"))
    assert result.returncode == 2
    assert f"{folder} is open to other users (chmod 755 it)" in result.stderr


def test_a_file_that_is_no_database_is_a_runtime_failure(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"not a database, just some bytes " * 64)
    result = portabilling("events", "dead-letter", "--db", str(path))
    assert result.returncode == 1
    assert "failed" in result.stderr and "Traceback" not in result.stderr
