"""Every asset has owners: a default team, or the ones `PORTABILLING_OWNERS` names."""

import pytest

from connector.api.errors import ConfigurationError
from connector.dagster_defs.project import DEFAULT_OWNERS, build_defs


def _owners(environ: dict[str, str]) -> set[tuple[str, ...]]:
    return {tuple(spec.owners) for spec in build_defs(environ).resolve_all_asset_specs()}


def test_every_asset_has_the_default_owner() -> None:
    assert _owners({}) == {(DEFAULT_OWNERS,)}


def test_the_variable_names_the_owners() -> None:
    environ = {"PORTABILLING_OWNERS": "billing@example.com, team:finance"}
    assert _owners(environ) == {("billing@example.com", "team:finance")}


def test_an_owner_that_is_neither_mail_nor_team_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^PORTABILLING_OWNERS: .* got 'finance'"):
        build_defs({"PORTABILLING_OWNERS": "finance"})
