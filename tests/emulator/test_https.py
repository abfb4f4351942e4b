"""HTTPS with a generated CA whose PEM tests can trust."""

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from connector.emulator import Emulator

MakeEmulator = Callable[..., Emulator]


def test_https_verifies_against_the_written_ca(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    emu = make_emulator(https=True, cert_dir=str(tmp_path))
    assert emu.url.startswith("https://127.0.0.1:")
    assert emu.ca_file == str(tmp_path / "ca.pem")
    body = {"params": {"login": emu.login, "password": emu.password}}
    answer = requests.post(
        f"{emu.url}/rest/Session/login", json=body, verify=emu.ca_file, timeout=10
    )
    assert answer.status_code == 200


def test_https_is_refused_without_the_ca(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(https=True)
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(f"{emu.url}/rest/Session/ping", json={"params": {}}, timeout=10)


def test_plain_http_has_no_ca_file(emu: Emulator) -> None:
    assert emu.ca_file is None
    assert emu.url.startswith("http://")
