"""Where the event store lives: one rule for the receiver and the Dagster definitions."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from espf_helpers import PASSWORD, USER

from connector.dagster_defs.project import build_defs
from connector.events import EventStoreConfigError, default_events_db_path

BASIC_ENV = {"PORTABILLING_WEBHOOK_USER": USER, "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD}


def _clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any PORTABILLING_ variable, plus `values`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PORTABILLING_")}
    return {**kept, **values}


def test_the_store_defaults_to_the_local_data_root() -> None:
    path = default_events_db_path({"PORTABILLING_DATA_DIR": "/srv/tables"})
    assert path == "/srv/tables/_events.sqlite3"


def test_the_variable_wins_over_the_data_root() -> None:
    environ = {"PORTABILLING_DATA_DIR": "/srv/tables", "PORTABILLING_EVENTS_DB": "/var/ev.db"}
    assert default_events_db_path(environ) == "/var/ev.db"


def test_an_object_storage_root_requires_the_variable() -> None:
    with pytest.raises(EventStoreConfigError, match="set PORTABILLING_EVENTS_DB to a local path"):
        default_events_db_path({"PORTABILLING_DATA_DIR": "s3://bucket/prefix"})


def test_the_definitions_use_the_data_roots_store(tmp_path: Path) -> None:
    defs = build_defs({"PORTABILLING_DATA_DIR": str(tmp_path)})
    resource = defs.resources["events_store"]
    assert resource.path == str(tmp_path / "_events.sqlite3")  # type: ignore[union-attr]


def test_the_definitions_refuse_an_object_storage_root_without_the_variable() -> None:
    with pytest.raises(EventStoreConfigError, match="PORTABILLING_EVENTS_DB"):
        build_defs({"PORTABILLING_DATA_DIR": "s3://bucket/prefix"})


def _webhook(environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "connector.commands.cli", "webhook", "--port", "0"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_receiver_opens_the_store_under_the_data_root(tmp_path: Path) -> None:
    process = _webhook(_clean_environment(PORTABILLING_DATA_DIR=str(tmp_path), **BASIC_ENV))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.communicate(timeout=60)  # shutdown under a loaded CI machine, not what is tested
    assert f"store: {tmp_path / '_events.sqlite3'})" in line
    assert (tmp_path / "_events.sqlite3").exists()


def test_the_receiver_refuses_an_object_storage_root_naming_the_variable() -> None:
    environ = _clean_environment(PORTABILLING_DATA_DIR="s3://bucket/prefix", **BASIC_ENV)
    process = _webhook(environ)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "set PORTABILLING_EVENTS_DB" in err
