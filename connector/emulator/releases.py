"""Which PortaBilling the emulator plays: a current release or one before MR101.

Sources: the seed documentation (JSON + Bearer, `login_to_realm`, `get_access_token_lifetime`,
the legacy `auth_info`/`params` form style, a two-day default token lifetime "for backward
compatibility"); WebTrit's adapter (900-second tokens with `expires_in` on current releases,
`Generic/get_version` answering `{"version": "MR<n>..."}`, `Env/get_env_info` answering
`env_info`). Version strings, the MR100 legacy release and the env info values are made up.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Release:
    """What a release serves."""

    name: str
    version: str
    token_lifetime_s: int
    accepts_json: bool  # `application/json` bodies and `Authorization: Bearer` (MR101+)
    realm_methods: bool  # `Session/login_to_realm` and `Session/get_access_token_lifetime`
    expires_in: bool  # login and refresh answers carry `expires_in` seconds


RELEASES = {
    "current": Release("current", "MR119-2", 900, True, True, True),
    "legacy": Release("legacy", "MR100-4", 172800, False, False, False),
}
DEFAULT_RELEASE = "current"
ENV_INFO: dict[str, Any] = {
    "i_env": 1,
    "name": "emulator",
    "description": "PortaBilling emulator",
    "email": "billing@example.com",
    "iso_4217": "USD",
}
