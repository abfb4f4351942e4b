"""The Dagster UI's GraphQL API shows the example project's freshness policies and owners."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.test_dagster_ui import serving

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portabilling_project"
QUERY = """
query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    owners {
      ... on UserAssetOwner { email }
      ... on TeamAssetOwner { team }
    }
    internalFreshnessPolicy {
      ... on TimeWindowFreshnessPolicy { failWindowSeconds }
    }
  }
}
"""


@pytest.fixture(scope="module")
def graphql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster-webserver` on the example project; its GraphQL URL once it serves."""
    home = tmp_path_factory.mktemp("dagster_home")
    with serving("portabilling_project.definitions", EXAMPLE, home) as url:
        yield url


def asset_nodes(url: str, *keys: str) -> dict[str, Any]:
    paths = [{"path": key.split("/")} for key in keys]
    answer = requests.post(url, json={"query": QUERY, "variables": {"keys": paths}}, timeout=30)
    return {"/".join(n["assetKey"]["path"]): n for n in answer.json()["data"]["assetNodes"]}


def test_the_ui_shows_each_tables_freshness_policy(graphql: str) -> None:
    nodes = asset_nodes(graphql, "portabilling/prod/accounts", "portabilling/prod/customers")
    policies = {key: node["internalFreshnessPolicy"] for key, node in nodes.items()}
    assert policies == {
        "portabilling/prod/accounts": {"failWindowSeconds": 26 * 3600},
        "portabilling/prod/customers": None,
    }


def test_the_ui_shows_instance_and_table_owners(graphql: str) -> None:
    nodes = asset_nodes(graphql, "portabilling/prod/accounts", "portabilling/staging/accounts")
    owners = {key: node["owners"] for key, node in nodes.items()}
    assert owners == {
        "portabilling/prod/accounts": [{"email": "data-platform@example.com"}, {"team": "billing"}],
        "portabilling/staging/accounts": [],
    }
