"""A running Dagster UI through its GraphQL API: wait until it serves, start a sensor."""

import threading
import time
from typing import Any

import requests

POLL_S = 0.5
_REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection {
    nodes { name location { name } sensors { name } } } } }
"""
_START_SENSOR = """
mutation ($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) { __typename ... on PythonError { message } }
}
"""


class DagsterUIError(RuntimeError):
    """The UI did not come up, or refused what was asked of it."""


class DagsterUI:
    """The UI at `url` (e.g. `http://127.0.0.1:3000`); waits end early once `stopping` is set."""

    def __init__(self, url: str, stopping: threading.Event) -> None:
        self.url = url
        self._stopping = stopping

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of one GraphQL request."""
        answer = requests.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables or {}}, timeout=30
        )
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()["data"]
        return data

    def start_sensor(self, name: str, timeout_s: float) -> bool:
        """Start the sensor `name` once its code location has loaded; False if stopped first."""
        selector = self._wait(lambda: self._sensor_selector(name), timeout_s)
        if selector is None:
            return False
        result = self.query(_START_SENSOR, {"selector": selector})["startSensor"]
        if result["__typename"] == "PythonError":
            raise DagsterUIError(f"starting {name}: {result['message']}")
        return True

    def _sensor_selector(self, name: str) -> dict[str, str] | None:
        """The selector of sensor `name`, or None while the UI or its code is still loading."""
        try:
            repositories = self.query(_REPOSITORIES)["repositoriesOrError"].get("nodes", [])
        except requests.RequestException:
            return None
        for repository in repositories:
            if any(sensor["name"] == name for sensor in repository["sensors"]):
                return {
                    "repositoryLocationName": repository["location"]["name"],
                    "repositoryName": repository["name"],
                    "sensorName": name,
                }
        return None

    def _wait(self, probe: Any, timeout_s: float) -> Any:
        """The first non-None `probe()`; None once stopping; DagsterUIError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self._stopping.is_set():
            found = probe()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise DagsterUIError(f"the Dagster UI at {self.url} did not load its code in time")
            self._stopping.wait(POLL_S)
        return None
