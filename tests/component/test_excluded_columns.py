"""Columns a table keeps out never reach the events table's `variables` either."""

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import requests

from connector.emulator import Emulator, EmulatorConfig
from connector.entities import BUILT_IN
from connector.events.auth import BasicAuth
from connector.events.receiver import EventReceiver
from connector.events.store import EventStore
from tests.component.test_declared_tables import component, point_at
from tests.conftest import TEST_RELEASE

WEBHOOK = ("espf", "hook-secret")
TABLES = "  - name: customers\n  - {name: accounts, exclude_columns: [email, firstname]}\n"


def test_excluded_columns_are_not_in_the_events_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EmulatorConfig(customers=2, accounts=4, release=TEST_RELEASE)
    with Emulator(config) as emu:
        point_at(emu, monkeypatch)
        i_account = int(emu.truth.accounts()[0]["i_account"])
        variables = {"i_event": 7, "i_account": i_account, "email": "a@b.c", "firstname": "Ann"}
        with (
            EventStore(str(tmp_path / "data" / "_events.sqlite3")) as store,
            EventReceiver(store, BasicAuth(*WEBHOOK), routing=BUILT_IN.routing()) as rx,
        ):
            body = {"event_type": "Subscriber/Updated", "variables": variables}
            assert requests.post(f"{rx.url}/events", json=body, auth=WEBHOOK, timeout=10).ok
        defs = dg.build_defs_for_component(component(TABLES, tmp_path / "data"))
        assert defs.resolve_job_def("portabilling_t_events_job").execute_in_process().success
    [stored] = pq.read_table(tmp_path / "data" / "events")["variables"].to_pylist()
    assert json.loads(stored) == {"i_event": 7, "i_account": i_account}
    accounts = pq.read_table(tmp_path / "data" / "accounts")
    assert accounts["i_account"].to_pylist() == [i_account]
    assert not {"email", "firstname"} & set(accounts.schema.names)
