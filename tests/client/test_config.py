"""Configuration is validated when the client is built; each error names the field or setting."""

import math
from pathlib import Path
from typing import Any

import pytest

from connector import ConfigurationError, PortaBillingClient

GOOD: dict[str, Any] = {"login": "api", "password": "pw-Secret-1"}


@pytest.mark.parametrize(
    ("url", "options", "field"),
    [
        ("pb.example.com", {}, "url"),
        ("ftp://pb.example.com", {}, "url"),
        ("https://", {}, "url"),
        ("https://user:pw@pb.example.com", {}, "url"),
        ("https://pb.example.com:notaport", {}, "url"),
        ("https://pb.example.com", {"login": ""}, "login"),
        ("https://pb.example.com", {"api_token": "tok"}, "password / api_token"),
        ("https://pb.example.com", {"password": None}, "password / api_token"),
        ("https://pb.example.com", {"password": ""}, "password / api_token"),
        ("https://pb.example.com", {"timeout": 0}, "timeout_s"),
        ("https://pb.example.com", {"timeout": -1.0}, "timeout_s"),
        ("https://pb.example.com", {"timeout": (5.0, 0)}, "timeout_s"),
        ("https://pb.example.com", {"realm": "root"}, "realm"),
        ("https://pb.example.com", {"verify": "/no/such/ca.pem"}, "verify"),
        ("https://pb.example.com", {"public_key": "not a key"}, "public_key"),
    ],
)
def test_bad_configuration_names_the_field(url: str, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PortaBillingClient(url, **{**GOOD, **options})
    assert str(caught.value).startswith(f"{field}:")
    assert isinstance(caught.value, ValueError)
    assert "pw-Secret-1" not in str(caught.value)


@pytest.mark.parametrize("pair", [(math.inf, 30.0), (5.0, math.nan)])
def test_non_finite_timeout_pairs_are_refused(pair: tuple[float, float]) -> None:
    with pytest.raises(ConfigurationError, match=r"^timeout_s: must be a finite"):
        PortaBillingClient("https://pb.example.com", **GOOD, timeout=pair)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://pb.example.com", "https://pb.example.com"),
        ("https://pb.example.com:443/", "https://pb.example.com:443"),
        ("http://127.0.0.1:8080/rest/", "http://127.0.0.1:8080"),
    ],
)
def test_url_is_normalised(url: str, base: str) -> None:
    assert PortaBillingClient(url, **GOOD).url == base


def test_ca_bundle_path_and_timeout_pair_are_accepted(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("placeholder")
    client = PortaBillingClient(
        "https://pb.example.com", **GOOD, verify=str(bundle), timeout=(3.0, 30.0)
    )
    assert client.url == "https://pb.example.com"


def test_verify_false_warns_once() -> None:
    with pytest.warns(UserWarning, match="TLS verification is off"):
        PortaBillingClient("https://pb.example.com", **GOOD, verify=False)
