"""The client's settings, checked when it is built: each error names the field, nothing is sent."""

import math
import os
from urllib.parse import urlsplit

import jwt

from connector.api.auth import REALMS
from connector.api.errors import ConfigurationError

Timeout = float | tuple[float, float]


def base_url(url: str) -> str:
    """The validated server root; a trailing `/rest` is accepted and dropped."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise _url_error(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise _url_error("must start with https:// (or http://)")
    if not parts.hostname:
        raise _url_error("has no host name")
    if parts.username is not None or parts.password is not None:
        raise _url_error("must not carry credentials; use PORTABILLING_LOGIN and _PASSWORD")
    if parts.query or parts.fragment:
        raise _url_error("must not have a query or fragment")
    path = parts.path.rstrip("/").removesuffix("/rest")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _url_error(problem: str) -> ConfigurationError:
    return ConfigurationError(f"url: {problem} (PORTABILLING_URL)")


def check_credentials(login: str, password: str | None, api_token: str | None) -> None:
    if not isinstance(login, str) or not login.strip():
        raise ConfigurationError("login: must be a non-empty string (PORTABILLING_LOGIN)")
    if (password is None) == (api_token is None):
        raise ConfigurationError(
            "password / api_token: set exactly one of PORTABILLING_PASSWORD and "
            "PORTABILLING_API_TOKEN"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not _is_number(value) or not 0 < value < math.inf:  # NaN fails both comparisons
            raise ConfigurationError(f"{name}: must be a finite positive number, got {value!r}")


def check_timeout(**values: Timeout) -> None:
    for name, value in values.items():
        if isinstance(value, tuple):
            if len(value) != 2:
                raise ConfigurationError(f"{name}: must be seconds or a (connect, read) pair")
            check_positive(**{name: value[0]})
            check_positive(**{name: value[1]})
        else:
            check_positive(**{name: value})


def check_at_least(minimum: int, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def check_not_negative(**values: float) -> None:
    for name, value in values.items():
        if not _is_number(value) or not 0 <= value < math.inf:
            raise ConfigurationError(f"{name}: must be a finite number >= 0, got {value!r}")


def check_realm(realm: str | None) -> None:
    if realm is not None and realm not in REALMS:
        raise ConfigurationError(
            f"realm: must be one of {', '.join(REALMS)}, got {realm!r} (PORTABILLING_REALM)"
        )


def check_verify(verify: bool | str) -> None:
    if isinstance(verify, bool):
        return
    if not isinstance(verify, str | os.PathLike) or not os.path.exists(verify):
        raise ConfigurationError(
            f"verify: CA bundle not found: {verify!r} (PORTABILLING_CA_BUNDLE)"
        )


def check_public_key(public_key: str | None) -> None:
    if public_key is None:
        return
    try:
        jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_key)
    except (ValueError, TypeError, jwt.InvalidKeyError):
        raise ConfigurationError("public_key: not a PEM-encoded RSA public key") from None
