"""Adding an entity is one declaration: `tariffs` gets an asset, checks, a table, a summary row
and a README entry, with no other module of `connector/` touched."""

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from connector.commands.demo import summary
from connector.dagster_defs.assets import KEYS_CHECK, TOTAL_CHECK, asset_key
from connector.dagster_defs.project import SNAPSHOT_JOB, build_defs
from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.entity_tables import EntityTable
from connector.entities import BUILT_IN, Entity, ListMethod
from connector.entities.readme import table_list
from connector.store.storage import TableStore
from connector.store.tables import TableSpec, int_col, money_col, text_col, time_col
from tests.conftest import TEST_RELEASE
from tests.e2e.test_extraction import assert_equal_to_truth

# The connector's side: the only thing written to add the entity.
TARIFFS = Entity(
    table=TableSpec(
        name="tariffs",
        key="i_tariff",
        columns=(
            int_col("i_tariff", "Tariff id (one row per tariff)."),
            text_col("name", "Tariff name."),
            text_col("iso_4217", "Currency of its rates (ISO 4217)."),
            money_col("connection_fee", "Fee charged per connection."),
            time_col("effective_from", "When the tariff takes effect (UTC)."),
        ),
    ),
    description="All tariffs, a full snapshot.",
    source=ListMethod("Tariff", "get_tariff_list", "tariff_list", "i_tariff"),
)


def _tariff_records(config: EmulatorConfig) -> list[dict[str, Any]]:
    return [
        {
            "i_tariff": str(1000 + key) if key % 3 else 1000 + key,
            "name": f"Tariff {key}",
            "iso_4217": ("USD", "EUR")[key % 2],
            "connection_fee": key / 10,
            "effective_from": f"2024-01-{key % 28 + 1:02d} 00:00:00",
            "loader_password": "not for the table",
        }
        for key in range(1, 136)
    ]


# The emulator's side: the records it serves.
TARIFF_TABLE = EntityTable(
    "Tariff", "get_tariff_list", "tariff_list", "i_tariff", records=_tariff_records, name="tariffs"
)


@pytest.fixture(scope="module")
def tariffs_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One snapshot run of the built-in entities plus tariffs, with transient errors served."""
    config = EmulatorConfig(
        customers=5,
        accounts=20,
        release=TEST_RELEASE,
        transient_error_rate=0.3,
        total_as_string=True,
        seed=5,
    )
    folder = tmp_path_factory.mktemp("tariffs")
    data = folder / "data"
    entities = BUILT_IN.plus(TARIFFS)
    with (
        Emulator(config, extra_tables=[TARIFF_TABLE]) as emu,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in _environment(emu, data, folder / "events.sqlite3").items():
            mp.setenv(name, value)
        defs = build_defs(entities=entities)
        result = defs.resolve_job_def(SNAPSHOT_JOB).execute_in_process()
        yield {"emu": emu, "data": data, "defs": defs, "result": result, "entities": entities}


def _environment(emu: Emulator, data: Path, events_db: Path) -> dict[str, str]:
    return {
        "PORTABILLING_URL": emu.url,
        "PORTABILLING_LOGIN": emu.login,
        "PORTABILLING_PASSWORD": emu.password,
        "PORTABILLING_DATA_DIR": str(data),
        "PORTABILLING_EVENTS_DB": str(events_db),
        "PORTABILLING_PAGE_SIZE": "10",
    }


def test_the_table_equals_the_emulators_truth(tariffs_run: Any) -> None:
    assert tariffs_run["emu"].counters.transient_errors > 0
    truth = tariffs_run["emu"].truth.table("tariffs")
    assert len(truth) == 135
    assert_equal_to_truth(TARIFFS.table, tariffs_run["data"] / "tariffs", truth)


def test_the_asset_carries_both_checks_and_they_pass(tariffs_run: Any) -> None:
    key = asset_key("tariffs")
    checks = {c.name for c in tariffs_run["defs"].resolve_assets_def(key).check_specs}
    assert checks == {KEYS_CHECK, TOTAL_CHECK}
    evaluations = tariffs_run["result"].get_asset_check_evaluations()
    results = {e.check_name: e.passed for e in evaluations if e.asset_key == key}
    assert results == {KEYS_CHECK: True, TOTAL_CHECK: True}


def test_the_columns_are_described_before_a_run(tariffs_run: Any) -> None:
    spec = tariffs_run["defs"].resolve_assets_def(asset_key("tariffs")).specs
    [schema] = [s.metadata["dagster/column_schema"] for s in spec]
    assert isinstance(schema, dg.TableSchema)
    described = {c.name: c.description for c in schema.columns}
    assert described["connection_fee"] == "Fee charged per connection."
    assert described["_extracted_at"]


def test_the_demo_summary_has_a_row(tariffs_run: Any) -> None:
    lines = summary(TableStore(str(tariffs_run["data"])), tariffs_run["entities"])
    [line] = [line for line in lines if line.split()[0] == "tariffs"]
    assert line.split()[1] == "135"


def test_the_readme_table_list_has_an_entry(tariffs_run: Any) -> None:
    row = "| `portabilling/tariffs` | `i_tariff` | `Tariff/get_tariff_list` | full snapshot | no |"
    assert row in table_list(tariffs_run["entities"]).splitlines()
    assert row not in table_list(BUILT_IN).splitlines()
