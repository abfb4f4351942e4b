"""`dg` on the example project: `check defs`, `list defs` and `scaffold defs` work as documented."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portabilling_project"
DG = Path(sys.executable).parent / "dg"
COMPONENT = "connector.dagster_defs.component.PortaBillingComponent"


def dg(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dg` in `project` with its own Dagster home; fails the test if `dg` fails."""
    environment = {"DAGSTER_HOME": str(home), "PATH": str(DG.parent)}
    done = subprocess.run(
        [str(DG), *args], cwd=project, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project (scaffolding writes into it)."""
    copy = tmp_path / "project"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    (tmp_path / "home").mkdir()
    return copy


def test_dg_check_defs_passes(project: Path) -> None:
    done = dg(project, project.parent / "home", "check", "defs")
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_list_defs_shows_both_servers(project: Path) -> None:
    listed = json.loads(dg(project, project.parent / "home", "list", "defs", "--json").stdout)
    jobs = {job["name"] for job in listed["jobs"]}
    assert {"portabilling_prod_snapshot_job", "portabilling_staging_snapshot_job"} <= jobs
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"portabilling/prod/tariffs", "portabilling/staging/accounts"} <= keys


def test_dg_scaffold_defs_writes_an_instance_that_loads(project: Path) -> None:
    home = project.parent / "home"
    dg(project, home, "scaffold", "defs", COMPONENT, "lab")
    written = (project / "portabilling_project" / "defs" / "lab" / "defs.yaml").read_text()
    assert f"type: {COMPONENT}" in written and "{{ env.LAB_PORTABILLING_PASSWORD }}" in written
    listed = json.loads(dg(project, home, "list", "defs", "--json").stdout)
    assert "portabilling_lab_snapshot_job" in {job["name"] for job in listed["jobs"]}
