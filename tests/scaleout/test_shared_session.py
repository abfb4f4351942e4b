"""A multiprocess run shares one session across its step processes and logs it out at the end."""

import os
from pathlib import Path

import dagster as dg
import pytest

from connector.dagster_defs.project import build_defs
from connector.dagster_defs.run_sessions import session_logout_sensor
from connector.emulator import Emulator, EmulatorConfig
from tests.conftest import TEST_RELEASE
from tests.scaleout.runs import three_assets_job

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory):
    """customers, accounts and events run by the multiprocess executor, once for the module."""
    tmp = tmp_path_factory.mktemp("shared-session")
    emulator = Emulator(
        EmulatorConfig(customers=5, accounts=40, seed=2, release=TEST_RELEASE)
    ).start()
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test() as instance:
        env.setenv("PORTABILLING_URL", emulator.url)
        env.setenv("PORTABILLING_LOGIN", emulator.login)
        env.setenv("PORTABILLING_PASSWORD", emulator.password)
        env.delenv("PORTABILLING_API_TOKEN", raising=False)
        env.setenv("PORTABILLING_DATA_DIR", str(tmp / "data"))
        env.setenv("PORTABILLING_EVENTS_DB", str(tmp / "events.db"))
        env.setenv("PORTABILLING_STATE_DIR", str(tmp / "state"))
        env.setenv("PYTHONPATH", str(REPO))  # step processes import tests.scaleout.runs
        try:
            result = dg.execute_job(dg.reconstructable(three_assets_job), instance=instance)
            assert result.success
            yield emulator, instance, instance.get_run_by_id(result.run_id), tmp
        finally:
            emulator.stop()


def step_pids(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START)
    return {record.event_log_entry.dagster_event.pid for record in records.records}


def test_three_step_processes_log_in_once(finished_run):
    emulator, instance, run, _ = finished_run
    assert len(step_pids(instance, run.run_id)) == 3  # really three processes
    assert emulator.counters.logins == 1


def test_the_run_end_sensor_logs_the_session_out(finished_run):
    emulator, instance, run, tmp = finished_run
    assert emulator.counters.requests.get("Session/logout", 0) == 0  # no step logged it out
    sensor = session_logout_sensor(dg.DagsterRunStatus.SUCCESS)
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=records.records[0].event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"portabilling": build_defs().resources["portabilling"]},
    )
    sensor(context)
    assert emulator.counters.requests.get("Session/logout", 0) == 1
    assert os.listdir(tmp / "state" / "tokens") == []
