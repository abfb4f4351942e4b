"""Clients for paging tests: the real client against the emulator over loopback HTTP."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector import ClientSettings, PortaBillingClient
from tests.conftest import legacy_for

Connect = Callable[..., PortaBillingClient]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """`connect(emu, **options)` -> a client logged in to `emu`, closed at teardown."""
    clients: list[PortaBillingClient] = []

    def _connect(emu: Any, **options: Any) -> PortaBillingClient:
        options.setdefault("settings", ClientSettings(max_concurrency=16))
        options.setdefault("legacy", legacy_for(emu))
        client = PortaBillingClient(emu.url, login=emu.login, password=emu.password, **options)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        client.close()
