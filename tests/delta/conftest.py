"""Fixtures for the Delta tests: Delta tables on a temporary folder, and typed rows to write."""

from pathlib import Path

import pytest

from connector.store.delta import DeltaTables


@pytest.fixture
def tables(tmp_path: Path) -> DeltaTables:
    return DeltaTables(str(tmp_path / "tables"), storage_options={})


# The moto S3 server and a fresh bucket per test, as the scale-out tests use them.
from tests.scaleout.conftest import s3, s3_endpoint, s3_root  # noqa: E402, F401
