"""Fixtures for the table tests: a store on a temporary folder."""

from pathlib import Path

import pytest

from connector.store.storage import TableStore


@pytest.fixture
def store(tmp_path: Path) -> TableStore:
    return TableStore(str(tmp_path))
