"""One set of client settings: checked once; the resource, client, scans and docs follow it."""

import inspect
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector import ClientSettings, ConfigurationError, PortaBillingClient
from connector.api.settings import DEFAULTS, SETTINGS, describe, environment_variables
from connector.dagster_defs.project import TUNING
from connector.dagster_defs.resources import PortaBillingResource
from connector.emulator import Emulator
from connector.entities import CUSTOMERS
from connector.scan.fanout import FanOut
from connector.scan.paging import ListScan
from connector.store.storage import TableStore
from connector.sync.extract import extract_snapshot
from tests.conftest import legacy_for

CONFIGURATION = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
CREDENTIALS: dict[str, Any] = {"url": "https://pb.example.com", "login": "api", "password": "pw"}
NUMERIC = [
    "timeout_s",
    "attempt_deadline_s",
    "retry_budget_s",
    "backoff_base_s",
    "backoff_cap_s",
    "refresh_margin_s",
]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("page_size", 0),
        ("max_concurrency", 0),
        ("max_concurrency", 2.5),
        ("max_retries", -1),
        ("refresh_margin_s", -1),
        ("attempt_deadline_s", 0),
        ("retry_budget_s", 0),
        ("backoff_base_s", -1),
        ("backoff_cap_s", 0),
        ("timeout_s", (5.0, 0)),
        ("timeout_s", (1.0, 2.0, 3.0)),
    ],
)
def test_a_bad_setting_is_named(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"^{setting}: must be"):
        ClientSettings(**{setting: value})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("1.e400")])
@pytest.mark.parametrize("setting", NUMERIC)
def test_non_finite_numbers_are_refused(setting: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"^{setting}: must be a finite"):
        ClientSettings(**{setting: value})


def test_the_resource_fields_take_their_defaults_and_descriptions_from_the_settings() -> None:
    fields = PortaBillingResource.model_fields
    shared = [name for name in SETTINGS if name in fields]
    assert shared == list(environment_variables().values())
    for name in shared:
        assert fields[name].default == getattr(DEFAULTS, name), name
        assert fields[name].description == describe(name), name
    assert PortaBillingResource(**CREDENTIALS).get_settings() == DEFAULTS


def test_the_resource_builds_the_client_from_its_fields() -> None:
    resource = PortaBillingResource(
        **CREDENTIALS, page_size=25, timeout_s=7.5, max_concurrency=6, max_in_flight=4
    )
    with resource.get_client() as client:
        assert client.settings == ClientSettings(page_size=25, timeout_s=7.5, max_concurrency=4)


def test_a_bad_resource_setting_fails_when_built() -> None:
    with pytest.raises(ValueError, match="page_size: must be an integer >= 1"):
        PortaBillingResource(**CREDENTIALS, page_size=0)


def test_the_client_timeout_keyword_replaces_the_setting() -> None:
    client = PortaBillingClient(
        **CREDENTIALS, timeout=(3.0, 30.0), settings=ClientSettings(page_size=5)
    )
    assert client.settings == ClientSettings(page_size=5, timeout_s=(3.0, 30.0))


@pytest.mark.parametrize("scan", [ListScan, FanOut])
def test_scans_default_to_the_settings(scan: Callable[..., object]) -> None:
    parameters = inspect.signature(scan).parameters
    assert parameters["page_size"].default == DEFAULTS.page_size
    assert parameters["concurrency"].default == DEFAULTS.max_concurrency


def test_every_setting_with_a_variable_is_read_from_the_environment() -> None:
    assert {variable: TUNING[variable] for variable in environment_variables()} == (
        environment_variables()
    )


def test_the_documented_tuning_table_shows_the_defaults() -> None:
    rows = dict(
        re.findall(r"^\| `(PORTABILLING_\w+)` \| ([^|]+?) \|", CONFIGURATION.read_text(), re.M)
    )
    for variable, name in environment_variables().items():
        assert float(rows[variable]) == getattr(DEFAULTS, name), variable


def test_the_extraction_pages_at_the_clients_page_size(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(customers=60, accounts=60)
    settings = ClientSettings(page_size=20)
    with PortaBillingClient(
        emu.url, login=emu.login, password=emu.password, settings=settings, legacy=legacy_for(emu)
    ) as client:
        extraction = extract_snapshot(client, TableStore(str(tmp_path)), CUSTOMERS, print)
    assert extraction.rows == 60
    assert extraction.scan.pages >= 60 // 20
