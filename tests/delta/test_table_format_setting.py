"""`PORTABILLING_TABLE_FORMAT` and the component's `table_format` choose the tables' format."""

import sys

import pytest

from connector.api.errors import ConfigurationError
from connector.dagster_defs.component import PortaBillingComponent
from connector.dagster_defs.project import build_defs
from connector.dagster_defs.resources import ParquetStorageResource
from connector.store.backend import open_tables
from connector.store.delta import DeltaTables
from connector.store.storage import TableStore

YAML = 'name: t\nconnection: {url: "http://pb", login: api, password: pw}\ndata_dir: ./data\n'


def storage(environ: dict[str, str]) -> ParquetStorageResource:
    resource = build_defs(environ).resources["storage"]
    assert isinstance(resource, ParquetStorageResource)
    return resource


def test_the_variable_chooses_delta(tmp_path) -> None:
    resource = storage({"PORTABILLING_TABLE_FORMAT": "delta"})
    assert isinstance(
        resource.model_copy(update={"data_dir": str(tmp_path)}).get_store(), DeltaTables
    )


def test_parquet_is_the_default() -> None:
    assert isinstance(storage({}).get_store(), TableStore)


def test_an_unknown_format_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^PORTABILLING_TABLE_FORMAT .* got 'iceberg'"):
        build_defs({"PORTABILLING_TABLE_FORMAT": "iceberg"})


def test_the_resource_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="table_format must be one of parquet, delta"):
        ParquetStorageResource(data_dir="./data", table_format="csv")


def test_the_component_attribute_chooses_delta() -> None:
    chosen = PortaBillingComponent.resolve_from_yaml(YAML + "table_format: delta\n")
    assert chosen.instance().storage.table_format == "delta"
    assert (
        PortaBillingComponent.resolve_from_yaml(YAML).instance().storage.table_format == "parquet"
    )


def test_the_component_refuses_an_unknown_format() -> None:
    with pytest.raises(Exception, match="table_format"):
        PortaBillingComponent.resolve_from_yaml(YAML + "table_format: iceberg\n")


def test_a_missing_deltalake_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deltalake", None)  # what an uninstalled package imports as
    monkeypatch.delitem(sys.modules, "connector.store.delta")
    with pytest.raises(ImportError, match=r"pip install 'portabilling-dagster\[delta\]'"):
        open_tables("./data", "delta")
