"""Fixtures for the Delta tests: Delta tables on a temporary folder, and typed rows to write."""

from pathlib import Path

import pytest

from connector.store.delta import DeltaTables


@pytest.fixture
def tables(tmp_path: Path) -> DeltaTables:
    return DeltaTables(str(tmp_path / "tables"), storage_options={})
