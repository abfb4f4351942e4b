"""The emulator's knobs: data shape, credentials, faults and latency."""

from dataclasses import dataclass, field, fields
from datetime import date

from connector.emulator.releases import DEFAULT_RELEASE, RELEASES, Release


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told; fault and latency knobs are read live on each request.

    Data-shape fields (`customers`, `accounts`, `xdrs_per_account` or `xdrs_per_day`, `xdr_start`,
    `xdr_days`, `seed`) are read once at start.
    """

    customers: int = 20
    accounts: int = 200
    xdrs_per_account: int = 10
    # Set: each day holds exactly this many xDRs, most in few customers (`xdr_layout.Skewed`).
    xdrs_per_day: int | None = None
    xdr_start: date = date(2024, 1, 1)
    xdr_days: int = 3
    seed: int = 7
    latency_s: float = 0.0
    transient_error_rate: float = 0.0
    rate_limit_rps: float | None = None
    retry_after_s: int = 1
    session_kill_rate: float = 0.0
    # "Service/method" -> ids whose calls answer a fault, e.g. {"Account/get_account_info": {7}}
    faulty_ids: dict[str, set[int]] = field(default_factory=dict)
    total_as_string: bool = False
    churn_per_page: int = 0
    release: str = DEFAULT_RELEASE
    token_lifetime_s: int | None = None  # None: the release's own default
    https: bool = False
    cert_dir: str | None = None
    login: str = "demo"
    password: str = "exAmple"
    api_token: str | None = None
    brute_force_attempts: int = 5
    brute_force_lock_s: int = 300
    host: str = "127.0.0.1"
    port: int = 0
    max_body_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field whose value cannot work."""
        for name in ("customers", "accounts", "xdrs_per_account", "churn_per_page", "port"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0")
        _require(self.xdrs_per_day is None or self.xdrs_per_day >= 0, "xdrs_per_day must be >= 0")
        for name in ("xdr_days", "brute_force_attempts", "max_body_bytes"):
            _require(getattr(self, name) >= 1, f"{name} must be >= 1")
        _require(
            self.token_lifetime_s is None or self.token_lifetime_s >= 1,
            "token_lifetime_s must be >= 1",
        )
        _require(self.release in RELEASES, f"release must be one of {', '.join(RELEASES)}")
        for name in ("transient_error_rate", "session_kill_rate"):
            _require(0.0 <= getattr(self, name) <= 1.0, f"{name} must be between 0 and 1")
        _require(self.latency_s >= 0, "latency_s must be >= 0")
        _require(self.retry_after_s >= 0, "retry_after_s must be >= 0")
        _require(self.brute_force_lock_s >= 0, "brute_force_lock_s must be >= 0")
        _require(
            self.rate_limit_rps is None or self.rate_limit_rps > 0, "rate_limit_rps must be > 0"
        )
        _require(self.accounts == 0 or self.customers > 0, "accounts need at least one customer")
        _require(bool(self.login), "login must not be empty")
        _require(bool(self.password), "password must not be empty")

    @property
    def profile(self) -> Release:
        """What the configured release serves."""
        return RELEASES[self.release]

    @property
    def access_token_lifetime_s(self) -> int:
        """Seconds an access token lives: the knob, else the release's default."""
        return self.token_lifetime_s or self.profile.token_lifetime_s

    def __repr__(self) -> str:
        shown = (
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name not in _SECRETS
        )
        return f"EmulatorConfig({', '.join(shown)})"


_SECRETS = frozenset({"password", "api_token"})


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
