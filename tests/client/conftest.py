"""Fixtures for the client tests: a scripted loopback server, RSA keys and JWTs, client factory."""

from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector import PortaBillingClient

from .scripted import Reply, ScriptedServer, scripted_server

PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as started:
        started.script("Session/logout", Reply(200, {"success": 1}))
        yield started


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The PEM text of `key`'s public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def sign(rsa_key: rsa.RSAPrivateKey) -> Callable[..., str]:
    """Issue an RS256 access token expiring at `exp`."""

    def issue(exp: float, jti: str = "sess-1", key: rsa.RSAPrivateKey | None = None) -> str:
        claims = {"exp": int(exp), "jti": jti, "login": "api", "aud": "portabilling-api"}
        return jwt.encode(claims, key or rsa_key, algorithm="RS256")

    return issue


def session_reply(access_token: str, refresh_token: str = "rt-1", **extra: Any) -> Reply:
    """A Session/login or refresh_access_token answer."""
    return Reply(200, {"access_token": access_token, "refresh_token": refresh_token, **extra})


@pytest.fixture
def make_client(server: ScriptedServer, clock: Any) -> Iterator[Callable[..., PortaBillingClient]]:
    """Build clients on the scripted server and the fake clock; closed at teardown."""
    built: list[PortaBillingClient] = []

    def build(**options: Any) -> PortaBillingClient:
        settings: dict[str, Any] = {
            "login": "api",
            "password": PASSWORD,
            "clock": clock,
            "sleep": clock.sleep,
            "timeout": 5.0,
        }
        settings.update(options)
        client = PortaBillingClient(settings.pop("url", server.url), **settings)
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()
