"""PortaBilling faults as the emulator serves them: HTTP 500 with `faultcode` / `faultstring`.

Codes used (see shared/portabilling-api.md):
- `Server.Session.auth_failed`: bad login credentials.
- `Server.Session.cannot_login_brute_force_activity`: too many bad logins in a row for a login.
- `Client.check_auth.envelope_missed`: no credentials on a method that needs them.
- `Client.Session.check_auth.failed_to_process_access_token`: a bearer token that is not a JWT.
- `Server.Session.check_auth.auth_failed`: expired, killed, logged-out or unknown token/session.
- `Server.Session.refresh_access_token.refresh_failed`: spent or unknown refresh token.
- `Client.Session.logout.failed_to_process_access_token`: logout of a token with no live session
  (seen: WebTrit's adapter handles it).
- `Client.check_auth.access_denied`: a method the session's realm may not call (guess).
- `Server.unknown_method`: no such `<Service>/<method>` (also a realm method on a legacy release).
- `Client.request.malformed`: the body cannot be decoded (bad JSON, wrong content type, ...).
- `Client.<method>.invalid_date`: a `from_date` / `to_date` not in `YYYY-MM-DD HH:MM:SS`.
- `Client.<method>.invalid_param`: a missing or ill-typed parameter.
"""

AUTH_FAILED = "Server.Session.auth_failed"
BRUTE_FORCE = "Server.Session.cannot_login_brute_force_activity"
ENVELOPE_MISSED = "Client.check_auth.envelope_missed"
BAD_ACCESS_TOKEN = "Client.Session.check_auth.failed_to_process_access_token"
SESSION_REJECTED = "Server.Session.check_auth.auth_failed"
REFRESH_FAILED = "Server.Session.refresh_access_token.refresh_failed"
LOGOUT_BAD_TOKEN = "Client.Session.logout.failed_to_process_access_token"
ACCESS_DENIED = "Client.check_auth.access_denied"
UNKNOWN_METHOD = "Server.unknown_method"
MALFORMED = "Client.request.malformed"


class Fault(Exception):
    """A PortaBilling API fault; the gateway turns it into HTTP 500 JSON."""

    def __init__(self, faultcode: str, faultstring: str) -> None:
        super().__init__(f"{faultcode}: {faultstring}")
        self.faultcode = faultcode
        self.faultstring = faultstring


def invalid_date(method: str, name: str) -> Fault:
    """The fault for a date parameter in the wrong format."""
    return Fault(f"Client.{method}.invalid_date", f"{name} must be 'YYYY-MM-DD HH:MM:SS' (UTC)")


def invalid_param(method: str, message: str) -> Fault:
    """The fault for a missing or ill-typed parameter."""
    return Fault(f"Client.{method}.invalid_param", message)
