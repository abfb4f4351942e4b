"""The Dagster UI's GraphQL API shows the registry's lineage edges and column descriptions."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.entities import XDRS

REPO = Path(__file__).resolve().parent.parent
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
QUERY = """
query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    dependencyKeys { path }
    metadataEntries {
      label
      ... on TableSchemaMetadataEntry { schema { columns { name description } } }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def graphql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster-webserver` on the project's definitions; its GraphQL URL once it serves."""
    with serving("definitions", REPO, tmp_path_factory.mktemp("dagster_home")) as url:
        yield url


@contextmanager
def serving(module: str, cwd: Path, home: Path) -> Iterator[str]:
    """`dagster-webserver -m module` in `cwd`; its GraphQL URL once it serves."""
    port = free_port()
    server = subprocess.Popen(
        [str(WEBSERVER), "-m", module, "-h", "127.0.0.1", "-p", str(port)],
        cwd=cwd,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # not DEVNULL: with stdout on /dev/null it never starts serving
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
        wait_until_listening(server, port)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_listening(server: subprocess.Popen[str], port: int) -> None:
    """Return once the port accepts connections; fail if the server exits or takes a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        with suppress(subprocess.TimeoutExpired):  # the pause between attempts watches the process
            server.wait(timeout=0.1)
            raise AssertionError("dagster-webserver exited")
    raise AssertionError("dagster-webserver did not listen within a minute")


def asset_nodes(url: str, *tables: str) -> dict[str, Any]:
    keys = [{"path": ["portabilling", table]} for table in tables]
    answer = requests.post(url, json={"query": QUERY, "variables": {"keys": keys}}, timeout=30)
    return {node["assetKey"]["path"][1]: node for node in answer.json()["data"]["assetNodes"]}


def test_the_ui_shows_the_lineage_edges(graphql: str) -> None:
    nodes = asset_nodes(graphql, "xdrs", "accounts", "customers")
    upstream = {name: [k["path"][1] for k in n["dependencyKeys"]] for name, n in nodes.items()}
    assert upstream == {"xdrs": ["customers"], "accounts": ["events"], "customers": ["events"]}


def test_the_ui_shows_column_descriptions_before_any_run(graphql: str) -> None:
    [entry] = [
        e
        for e in asset_nodes(graphql, "xdrs")["xdrs"]["metadataEntries"]
        if e["label"] == "dagster/column_schema"
    ]
    described = {c["name"]: c["description"] for c in entry["schema"]["columns"]}
    assert described == XDRS.table.descriptions
