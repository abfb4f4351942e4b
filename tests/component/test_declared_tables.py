"""Declared tables and YAML mistakes: each failure names the table or the attribute's path."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from connector.dagster_defs.component import PortaBillingComponent
from connector.emulator import Emulator, EmulatorConfig
from tests.conftest import TEST_RELEASE, legacy_for
from tests.e2e.test_extraction import assert_equal_to_truth
from tests.e2e.test_recent_window import DOCUMENT_TABLE, issued

CONNECTION = (
    'connection: {url: "{{ env.PB_URL }}", login: "{{ env.PB_LOGIN }}", '
    "password: \"{{ env.PB_PASSWORD }}\", legacy_auth: \"{{ env('PB_LEGACY_API', 'false') }}\"}"
)


def point_at(emulator: Emulator, mp: pytest.MonkeyPatch) -> None:
    """The environment `CONNECTION` reads, for `emulator`."""
    mp.setenv("PB_URL", emulator.url)
    mp.setenv("PB_LOGIN", emulator.login)
    mp.setenv("PB_PASSWORD", emulator.password)
    mp.setenv("PB_LEGACY_API", str(legacy_for(emulator)).lower())


def component(tables: str, data_dir: Path | str = "./data") -> PortaBillingComponent:
    """The component of a `defs.yaml` whose `tables:` attribute is `tables`."""
    return PortaBillingComponent.resolve_from_yaml(
        f"name: t\n{CONNECTION}\ndata_dir: {data_dir}\ntables:\n{tables}"
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with (
        Emulator(EmulatorConfig(customers=2, accounts=5, release=TEST_RELEASE)) as emu,
        pytest.MonkeyPatch.context() as mp,
    ):
        point_at(emu, mp)
        yield emu


@pytest.mark.parametrize(
    ("declaration", "named"),
    [
        (
            "method: Nope/get_nope_list, list_key: x_list, key: i_x",
            "Unknown method Nope/get_nope_list",
        ),
        (
            "method: Account/get_account_list, list_key: wrong_list, key: i_account",
            "answer has no list 'wrong_list'",
        ),
        (
            "method: Account/get_account_list, list_key: account_list, key: i_nokey",
            "a row has no integer 'i_nokey'",
        ),
    ],
)
def test_a_declared_table_the_server_does_not_answer_fails_naming_it(
    emulator: Emulator, tmp_path: Path, declaration: str, named: str
) -> None:
    tables = f"  - {{name: things, {declaration}}}\n"
    defs = dg.build_defs_for_component(component(tables, tmp_path))
    job = defs.resolve_job_def("portabilling_t_snapshot_job")
    result = job.execute_in_process(raise_on_error=False)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "table things: " in message and named in message
    assert emulator.password not in message


@pytest.mark.parametrize(
    ("tables", "path"),
    [
        (
            "  - name: customers\n  - name: accounts\n"
            "  - {name: tariffs, method: Tariff/get_tariff_list, list_key: tariff_list}\n",
            "attributes.tables[2].key: a declared table needs it",
        ),
        ("  - name: rates\n", "attributes.tables[0].method: rates is not built in"),
        ("  - {name: accounts, key: i_account}\n", "attributes.tables[0].key: only for declared"),
        (
            "  - {name: customers, method: Customer/get_customer_list, list_key: l, key: k}\n",
            "attributes.tables[0].name: customers is a built-in table",
        ),
        (
            "  - name: customers\n  - {name: accounts, exclude_columns: [email, i_account]}\n",
            "attributes.tables[1].exclude_columns: the key i_account cannot be excluded",
        ),
    ],
)
def test_a_yaml_mistake_fails_loading_naming_the_attribute(tables: str, path: str) -> None:
    with pytest.raises(Exception, match=path.replace("[", r"\[").replace("]", r"\]")):
        component(tables)


def test_secrets_from_the_environment_stay_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PB_URL", "https://pb.example.com")
    monkeypatch.setenv("PB_PASSWORD", "never-shown-7f3a")
    defs = dg.build_defs_for_component(component("  - name: customers\n"))
    resource = defs.resources["portabilling_t"]
    assert resource.password == dg.EnvVar("PB_PASSWORD")
    assert "never-shown-7f3a" not in repr(resource)


DOCUMENTS = (
    "  - name: documents\n"
    "    method: Document/get_document_list\n"
    "    list_key: document_list\n"
    "    key: i_document\n"
    "    columns: {issue_date: date}\n"
    "    date_filter: {after: issued_after, before: issued_before, format: date}\n"
)


def test_a_declared_table_with_a_date_filter_is_read_a_day_at_a_time(tmp_path: Path) -> None:
    config = EmulatorConfig(customers=2, accounts=3, release=TEST_RELEASE)
    day = issued(4).isoformat()
    with Emulator(config, extra_tables=[DOCUMENT_TABLE]) as emu, pytest.MonkeyPatch.context() as mp:
        point_at(emu, mp)
        documents = component(DOCUMENTS, tmp_path)
        job = dg.build_defs_for_component(documents).resolve_job_def("portabilling_t_xdrs_job")
        assert job.execute_in_process(partition_key=day).success
        truth = [r for r in emu.truth.table("documents") if r["issue_date"] == day]
    [table] = documents.tables or []
    assert len(truth) == 1
    assert_equal_to_truth(table.entity().table, tmp_path / "documents" / f"date={day}", truth)
