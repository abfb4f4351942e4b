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


# Knobs by bucket name: a store that ignores conditional writes; one that answers every other
# conditional write with S3's 409 (another conditional write to the key in flight).
IGNORES_CONDITIONS = "noconditions-"
CONFLICTING = "conflicting-"
CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH")
CONFLICT_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code>'
    b"<Message>A conflicting conditional operation is in progress.</Message></Error>"
)


class LikeS3:
    """In front of moto: one request at a time, and the knobs above.

    moto checks `If-None-Match` / `If-Match` and then writes, on concurrent threads; S3 decides a
    conditional write atomically, which one request at a time restores.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._one_at_a_time = threading.Lock()
        self._conditional_requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        is_conditional_write = environ["REQUEST_METHOD"] in {"PUT", "DELETE"} and any(
            name in environ for name in CONDITIONS
        )
        if path.startswith(f"/{IGNORES_CONDITIONS}"):
            for name in CONDITIONS:
                environ.pop(name, None)
        with self._one_at_a_time:
            if is_conditional_write and path.startswith(f"/{CONFLICTING}"):
                self._conditional_requests += 1
                if self._conditional_requests % 2:
                    start_response("409 Conflict", [("Content-Type", "application/xml")])
                    return [CONFLICT_BODY]
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
    return new_bucket_root("pb-")


def new_bucket_root(prefix: str) -> str:
    """`s3://<fresh bucket named prefix...>/tables`."""
    bucket = f"{prefix}{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/tables"


@pytest.fixture
def s3_root_without_conditions(s3_root: str) -> str:
    """Like `s3_root`, on a bucket of a store that ignores conditional writes."""
    return new_bucket_root(IGNORES_CONDITIONS)


@pytest.fixture
def s3_root_with_conflicts(s3_root: str) -> str:
    """Like `s3_root`, on a bucket whose every other conditional write meets a 409."""
    return new_bucket_root(CONFLICTING)


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
