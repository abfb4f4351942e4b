"""Scale-out fixtures: a local S3-compatible server (moto) and the contract's environment."""

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import s3fs
from moto.server import ThreadedMotoServer

from connector.emulator import Emulator

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# Buckets whose names start with this behave like a store that ignores conditional writes.
IGNORES_CONDITIONS = "noconditions-"


class LikeS3:
    """In front of moto: requests one at a time, and a knob for stores without conditions.

    moto checks `If-None-Match` / `If-Match` and then writes, on concurrent threads; S3 decides a
    conditional write atomically, which one request at a time restores.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._one_at_a_time = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith(f"/{IGNORES_CONDITIONS}"):
            environ.pop("HTTP_IF_NONE_MATCH", None)
            environ.pop("HTTP_IF_MATCH", None)
        with self._one_at_a_time:
            return self.app(environ, start_response)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    server._server.app = LikeS3(server._server.app)  # type: ignore[union-attr]
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_root(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://<fresh bucket>/tables`, reachable through the standard AWS environment variables."""
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    # botocore (and so s3fs) reads the endpoint override from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    bucket = f"pb-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/tables"


@pytest.fixture
def s3_root_without_conditions(s3_root: str) -> str:
    """Like `s3_root`, on a bucket of a store that ignores conditional writes."""
    bucket = f"{IGNORES_CONDITIONS}{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/tables"


@pytest.fixture
def s3(s3_root: str) -> s3fs.S3FileSystem:
    """An S3 filesystem of its own, so no listing cached by the code under test hides a change."""
    return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)


@pytest.fixture
def point_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Emulator, str], None]:
    """Set the contract's environment for an emulator and a data dir."""

    def point(emulator: Emulator, data_dir: str) -> None:
        monkeypatch.setenv("PORTABILLING_URL", emulator.url)
        monkeypatch.setenv("PORTABILLING_LOGIN", emulator.login)
        monkeypatch.setenv("PORTABILLING_PASSWORD", emulator.password)
        monkeypatch.setenv("PORTABILLING_DATA_DIR", data_dir)
        monkeypatch.setenv("PORTABILLING_XDR_START_DATE", "2024-01-01")
        monkeypatch.setenv("PORTABILLING_PAGE_SIZE", "50")
        monkeypatch.setenv("PORTABILLING_EVENTS_DB", str(tmp_path / "events.db"))
        monkeypatch.delenv("PORTABILLING_API_TOKEN", raising=False)

    return point
