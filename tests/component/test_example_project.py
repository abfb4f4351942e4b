"""The example `dg` project, loaded by Dagster's component loader: two servers side by side."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from connector.emulator import Emulator, EmulatorConfig
from connector.entities import ACCOUNTS, CUSTOMERS
from connector.entities.declared import without_columns
from tests.conftest import TEST_RELEASE, legacy_for
from tests.e2e.test_extraction import assert_equal_to_truth
from tests.e2e.test_new_entity import TARIFF_TABLE, TARIFFS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portabilling_project"
EXCLUDED = frozenset({"firstname", "lastname", "email"})
SERVERS = ("prod", "staging")


def _environment(name: str, emulator: Emulator, data: Path) -> dict[str, str]:
    prefix = f"{name.upper()}_PORTABILLING"
    return {
        f"{prefix}_URL": emulator.url,
        f"{prefix}_LOGIN": emulator.login,
        f"{prefix}_PASSWORD": emulator.password,
        f"{prefix}_DATA_DIR": str(data / name),
        f"{prefix}_LEGACY_API": str(legacy_for(emulator)).lower(),
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Both instances' snapshot jobs run once, each against its own emulator."""
    data = tmp_path_factory.mktemp("servers")
    configs = {
        "prod": EmulatorConfig(customers=4, accounts=30, seed=11, release=TEST_RELEASE),
        "staging": EmulatorConfig(customers=3, accounts=12, seed=12, release=TEST_RELEASE),
    }
    with (
        Emulator(configs["prod"], extra_tables=[TARIFF_TABLE]) as prod,
        Emulator(configs["staging"]) as staging,
        pytest.MonkeyPatch.context() as mp,
        dg.DagsterInstance.ephemeral() as instance,
    ):
        emulators = {"prod": prod, "staging": staging}
        for name, emulator in emulators.items():
            for variable, value in _environment(name, emulator, data).items():
                mp.setenv(variable, value)
        mp.syspath_prepend(str(EXAMPLE))
        defs = dg.load_from_defs_folder(path_within_project=EXAMPLE)
        results = {
            name: defs.resolve_job_def(f"portabilling_{name}_snapshot_job").execute_in_process(
                instance=instance
            )
            for name in SERVERS
        }
        yield {"defs": defs, "emulators": emulators, "data": data, "results": results}


def test_each_instance_reads_its_own_server(project: dict[str, Any]) -> None:
    for name, emulator in project["emulators"].items():
        folder = project["data"] / name
        assert_equal_to_truth(CUSTOMERS.table, folder / "customers", emulator.truth.customers())
        accounts = without_columns(ACCOUNTS, sorted(EXCLUDED)).table
        assert_equal_to_truth(accounts, folder / "accounts", emulator.truth.accounts())


def test_the_declared_table_equals_the_servers_list(project: dict[str, Any]) -> None:
    prod = project["emulators"]["prod"]
    path = project["data"] / "prod" / "tariffs"
    assert_equal_to_truth(TARIFFS.table, path, prod.truth.table("tariffs"))
    assert "loader_password" not in pq.read_schema(next(path.glob("*.parquet"))).names


def test_each_instance_logged_in_once_to_its_own_server(project: dict[str, Any]) -> None:
    assert {name: e.counters.logins for name, e in project["emulators"].items()} == {
        "prod": 1,
        "staging": 1,
    }


def test_asset_keys_carry_each_instances_prefix(project: dict[str, Any]) -> None:
    keys = {key.to_user_string() for key in project["defs"].resolve_all_asset_keys()}
    assert {k for k in keys if k.startswith("portabilling/prod/")} == {
        f"portabilling/prod/{t}" for t in ("customers", "accounts", "xdrs", "tariffs", "events")
    }
    assert {k for k in keys if k.startswith("portabilling/staging/")} == {
        f"portabilling/staging/{t}" for t in ("customers", "accounts", "events")
    }
    assert all(key.split("/")[1] in SERVERS for key in keys)


def test_excluded_columns_are_in_no_file(project: dict[str, Any]) -> None:
    for path in (project["data"] / "prod" / "accounts").glob("*.parquet"):
        assert not EXCLUDED & set(pq.read_schema(path).names)


def test_excluded_columns_are_in_no_metadata_or_preview(project: dict[str, Any]) -> None:
    [materialization] = [
        m
        for m in project["results"]["prod"].asset_materializations_for_node(
            "portabilling__prod__accounts"
        )
    ]
    metadata = materialization.metadata
    columns = {c.name for c in metadata["dagster/column_schema"].value.columns}
    assert "i_account" in columns and not EXCLUDED & columns
    preview = metadata["preview"].value
    assert "i_account" in preview and not any(name in preview for name in EXCLUDED)
