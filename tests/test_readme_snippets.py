"""The documentation's snippets run as written: reading the demo's tables, posting an event."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.entities import BUILT_IN
from connector.events import BasicAuth, EventStore, parse_event
from connector.events.receiver import EventReceiver

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOCUMENTED_RECEIVER = "http://127.0.0.1:8788"
USER, PASSWORD = "espf", "snippet-secret"


def snippets(language: str, containing: str) -> list[str]:
    """Fenced `language` blocks of README.md and docs/*.md that contain `containing`."""
    fence = re.compile(rf"^```{language}\n(.*?)^```", re.M | re.S)
    return [
        block for page in PAGES for block in fence.findall(page.read_text()) if containing in block
    ]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose `data/` holds the tables `portabilling demo` writes."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.commands.cli",
            "demo",
            "--data-dir",
            "data",
            "--accounts",
            "60",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return folder


def test_the_reading_snippet_runs_against_the_demos_tables(demo_folder: Path) -> None:
    [snippet] = snippets("python", 'read_parquet("data/')
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=demo_folder, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_payload_example_is_a_valid_event() -> None:
    [example] = snippets("json", '"event_type"')
    event = parse_event(json.loads(example), datetime.now(UTC), BUILT_IN.routing())
    assert (event.event_type, event.i_event) == ("Subscriber/Updated", 1001)


def test_the_curl_line_stores_an_event(tmp_path: Path) -> None:
    [snippet] = snippets("bash", "curl ")
    environ = {
        **os.environ,
        "PORTABILLING_WEBHOOK_USER": USER,
        "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD,
    }
    with (
        EventStore(str(tmp_path / "events.sqlite3")) as store,
        EventReceiver(store, BasicAuth(USER, PASSWORD), routing=BUILT_IN.routing()) as receiver,
    ):
        command = snippet.replace(DOCUMENTED_RECEIVER, receiver.url)  # a free port, not 8788
        done = subprocess.run(["bash", "-c", command], env=environ, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert store.counts()["pending"] == 1
