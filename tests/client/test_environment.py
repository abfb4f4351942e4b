"""Settings from the environment and resource fields: non-finite numbers and realms are refused."""

import math
from typing import Any

import pydantic
import pytest

from connector.api.errors import ConfigurationError
from connector.dagster_defs.project import TUNING, build_defs, portabilling_resource
from connector.dagster_defs.resources import PortaBillingResource

NUMERIC_VARIABLES = [*TUNING, "PORTABILLING_EVENTS_SENSOR_INTERVAL_S"]
CREDENTIALS: dict[str, Any] = {"url": "https://pb.example.com", "login": "api", "password": "pw"}


@pytest.mark.parametrize("text", ["1.e400", "nan", "inf", "-1.5"])
@pytest.mark.parametrize("variable", NUMERIC_VARIABLES)
def test_every_numeric_variable_refuses_non_finite_values(variable: str, text: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{variable} must be a"):
        build_defs({variable: text})


def test_the_new_tuning_variables_reach_the_resource() -> None:
    resource = portabilling_resource(
        {
            "PORTABILLING_RETRY_BUDGET_S": "600",
            "PORTABILLING_ATTEMPT_DEADLINE_S": "90.5",
            "PORTABILLING_REALM": "account",
        }
    )
    assert (resource.retry_budget_s, resource.attempt_deadline_s) == (600, 90.5)
    assert resource.realm == "account"


def test_an_unknown_realm_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^PORTABILLING_REALM must be one of admin"):
        portabilling_resource({"PORTABILLING_REALM": "root"})


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize(
    "field", ["timeout_s", "attempt_deadline_s", "retry_budget_s", "refresh_margin_s"]
)
def test_resource_fields_refuse_non_finite_numbers(field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        PortaBillingResource(**CREDENTIALS, **{field: value})
