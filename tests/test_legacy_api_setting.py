"""`PORTABILLING_LEGACY_API`: the project's clients speak the pre-MR101 form style when set."""

import pytest

from connector.api.errors import ConfigurationError
from connector.dagster_defs.project import portabilling_resource


@pytest.mark.parametrize(("text", "legacy"), [("true", True), ("false", False), ("", False)])
def test_legacy_api_variable_sets_the_resource(text: str, legacy: bool) -> None:
    assert portabilling_resource({"PORTABILLING_LEGACY_API": text}).legacy_auth is legacy


def test_malformed_legacy_api_variable_names_itself() -> None:
    with pytest.raises(ConfigurationError, match="PORTABILLING_LEGACY_API"):
        portabilling_resource({"PORTABILLING_LEGACY_API": "maybe"})
