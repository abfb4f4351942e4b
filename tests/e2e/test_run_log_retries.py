"""An unreachable server shows in the run's own log: a line per retry, then the cause."""

import socket
from pathlib import Path

import dagster as dg
import pytest

from connector.dagster_defs.project import SNAPSHOT_JOB, build_defs


def test_retries_are_logged_in_the_run_and_the_failure_keeps_the_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name, value in {
        "PORTABILLING_URL": url,
        "PORTABILLING_LOGIN": "api",
        "PORTABILLING_PASSWORD": "pw",
        "PORTABILLING_DATA_DIR": str(tmp_path),
        "PORTABILLING_RETRY_BUDGET_S": "1",  # a refused connection fails at once: retries are fast
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PORTABILLING_API_TOKEN", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            build_defs()
            .resolve_job_def(SNAPSHOT_JOB)
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert not result.success
    retries = [m for m in messages if "attempt 1 failed (connection refused); next attempt in" in m]
    assert retries, "no retry line in the run's log"
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    assert failures and all("connection refused; gave up after" in f.to_string() for f in failures)
