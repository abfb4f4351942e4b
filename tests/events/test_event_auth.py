"""The three ESPF sender-authentication schemes, and their configuration from the environment."""

from typing import Any

import pytest
from espf_helpers import (
    CUSTOM_CREDENTIAL,
    CUSTOM_TYPE,
    KEY_ID,
    PASSWORD,
    SIGNING_KEY,
    USER,
    basic_header,
    signature_headers,
)
from requests.structures import CaseInsensitiveDict

from connector.events import (
    BasicAuth,
    CustomAuth,
    SignatureAuth,
    WebhookConfigError,
    authenticator_from_env,
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (basic_header(), True),
        ({"Authorization": basic_header()["Authorization"].replace("Basic", "basic")}, True),
        (basic_header(password="wrong"), False),
        (basic_header(user="other"), False),
        ({"Authorization": "Basic !!!not-base64"}, False),
        ({"Authorization": f"Bearer {PASSWORD}"}, False),
        ({}, False),
    ],
)
def test_basic_auth(headers: dict[str, str], expected: bool) -> None:
    assert BasicAuth(USER, PASSWORD).is_authorized(headers) is expected


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (f"{CUSTOM_TYPE} {CUSTOM_CREDENTIAL}", True),
        (f"{CUSTOM_TYPE} wrong", False),
        (f"Other {CUSTOM_CREDENTIAL}", False),
        (CUSTOM_TYPE, False),
    ],
)
def test_custom_auth(authorization: str, expected: bool) -> None:
    auth = CustomAuth(CUSTOM_TYPE, CUSTOM_CREDENTIAL)
    assert auth.is_authorized({"Authorization": authorization}) is expected


def _signature_accepts(clock: Any, headers: dict[str, str]) -> bool:
    """Whether the Signature scheme accepts `headers` (case-insensitive, as a request's are)."""
    auth = SignatureAuth(KEY_ID, SIGNING_KEY, max_clock_skew_s=300, clock=clock)
    return auth.is_authorized(CaseInsensitiveDict(headers))


def test_signature_auth_accepts_a_fresh_signature(clock: Any) -> None:
    assert _signature_accepts(clock, signature_headers(clock()))


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_signature_outside_the_skew_bound_is_refused(clock: Any, skew: float) -> None:
    assert not _signature_accepts(clock, signature_headers(clock() + skew))


def test_a_captured_signature_stops_working_once_old(clock: Any) -> None:
    headers = signature_headers(clock())
    clock.advance(299)
    assert _signature_accepts(clock, headers)
    clock.advance(2)
    assert not _signature_accepts(clock, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: {**h, "Authorization": h["Authorization"].replace(KEY_ID, "other-key")},
        lambda h: {**h, "Authorization": h["Authorization"].replace("hmac-sha1", "hmac-sha256")},
        lambda h: {**h, "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
        lambda h: {"Authorization": h["Authorization"]},
        lambda h: {**h, "Date": "not a date"},
    ],
)
def test_tampered_signature_is_refused(clock: Any, tamper: Any) -> None:
    assert not _signature_accepts(clock, tamper(signature_headers(clock())))


def test_signature_with_the_wrong_key_is_refused(clock: Any) -> None:
    assert not _signature_accepts(clock, signature_headers(clock(), key="not-the-key"))


def test_reprs_hide_secrets() -> None:
    shown = repr([BasicAuth(USER, PASSWORD), CustomAuth(CUSTOM_TYPE, CUSTOM_CREDENTIAL)])
    shown += repr(SignatureAuth(KEY_ID, SIGNING_KEY))
    assert PASSWORD not in shown and CUSTOM_CREDENTIAL not in shown and SIGNING_KEY not in shown


@pytest.mark.parametrize(
    ("scheme", "environ", "missing"),
    [
        ("basic", {"PORTABILLING_WEBHOOK_USER": "u"}, "PORTABILLING_WEBHOOK_PASSWORD"),
        ("custom", {}, "PORTABILLING_WEBHOOK_CUSTOM_TYPE"),
        (
            "signature",
            {"PORTABILLING_WEBHOOK_SIGNATURE_KEY_ID": "k"},
            "PORTABILLING_WEBHOOK_SIGNATURE_KEY",
        ),
    ],
)
def test_missing_credentials_name_the_variable(
    scheme: str, environ: dict[str, str], missing: str
) -> None:
    with pytest.raises(WebhookConfigError, match=missing):
        authenticator_from_env(scheme, environ)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown auth scheme"):
        authenticator_from_env("digest", {})
