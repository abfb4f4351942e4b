"""The response → exception mapping, redaction, and what errors show of themselves."""

import pickle

import pytest

from connector.api.errors import (
    AuthenticationError,
    FaultError,
    PortaBillingError,
    ProtocolError,
    SessionRejectedError,
    TransientError,
    error_for_response,
    excerpt,
    redact,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _fault(code: str) -> dict[str, str]:
    return {"faultcode": code, "faultstring": "text"}


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (500, _fault("Server.Session.check_auth.auth_failed"), SessionRejectedError),
        (
            500,
            _fault("Client.Session.check_auth.failed_to_process_access_token"),
            SessionRejectedError,
        ),
        (500, _fault("Client.Session.check_auth.failed_to_process_jwt"), SessionRejectedError),
        (500, _fault("Client.check_auth.envelope_missed"), SessionRejectedError),
        (500, _fault("Server.Session.auth_failed"), AuthenticationError),
        (500, _fault("Server.Session.cannot_login_brute_force_activity"), AuthenticationError),
        (500, _fault("Server.Session.alert_You_must_change_password"), AuthenticationError),
        (500, _fault("Server.Session.refresh_access_token.refresh_failed"), AuthenticationError),
        (500, _fault("Client.get_account_info.invalid_param"), FaultError),
        (200, _fault("Server.unknown_method"), FaultError),
        (502, None, TransientError),
        (503, None, TransientError),
        (504, None, TransientError),
        (429, None, TransientError),
        (503, {"error": "busy"}, TransientError),
        (401, None, AuthenticationError),
        (403, None, AuthenticationError),
        (500, None, ProtocolError),
        (404, None, ProtocolError),
        (200, None, ProtocolError),
        (200, ["not", "a", "dict"], ProtocolError),
    ],
)
def test_response_maps_to_the_error_the_caller_acts_on(
    status: int, payload: object, expected: type[PortaBillingError]
) -> None:
    error = error_for_response(status, payload, b"<html>x</html>", service="S", method="m")
    assert type(error) is expected
    assert (error.service, error.method, error.http_status) == ("S", "m", status)


def test_fault_carries_code_and_string() -> None:
    error = error_for_response(500, _fault("Client.x.y"), b"", service="Account", method="get")
    assert (error.faultcode, error.faultstring) == ("Client.x.y", "text")
    assert str(error) == "Account/get: Client.x.y: text (HTTP 500)"


def test_non_json_error_names_status_and_a_short_excerpt() -> None:
    body = b"<html><body>Bad Gateway from nginx</body></html>" + b"x" * 5000
    error = error_for_response(500, None, body, service="Account", method="get")
    assert "HTTP 500" in str(error)
    assert "not JSON" in str(error)
    assert "Bad Gateway from nginx" in str(error)
    assert len(str(error)) < 300


@pytest.mark.parametrize(
    "secret_text",
    [
        JWT,
        f"Bearer {JWT}",
        '"password": "hunter2-Secret"',
        "password=hunter2-Secret",
        '{"refresh_token": "rt-0123456789"}',
        "session_id=0123456789abcdef0123456789abcdef",
        "api_token: tok-abcdef",
        "opaque 3f9c1a0b7e2d4c6f8a1b3d5e7f9a0c2e",
    ],
)
def test_redact_masks_secrets(secret_text: str) -> None:
    masked = redact(f"before {secret_text} after")
    for secret in (
        "hunter2-Secret",
        "rt-0123456789",
        "0123456789abcdef",
        "tok-abcdef",
        JWT,
        "3f9c1a",
    ):
        assert secret not in masked
    assert masked.startswith("before ")


def test_redact_keeps_ordinary_text() -> None:
    text = "Account/get_account_list: invalid limit for i_customer 1000"
    assert redact(text) == text


def test_fault_string_is_redacted() -> None:
    payload = {"faultcode": "Client.x", "faultstring": f"bad token {JWT}"}
    error = error_for_response(500, payload, b"", service="S", method="m")
    assert JWT not in str(error) and JWT not in repr(error)


def test_excerpt_is_single_line_and_bounded() -> None:
    assert excerpt(b"a\n\n b\t c" + b" d" * 500).startswith("a b c d")
    assert len(excerpt("y " * 1000)) == 200


def test_errors_survive_pickling_with_their_context() -> None:
    error = FaultError(
        "c: s", faultcode="c", faultstring="s", service="A", method="m", http_status=500
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is FaultError
    assert (copy.faultcode, copy.service, copy.http_status, str(copy)) == (
        "c",
        "A",
        500,
        str(error),
    )
