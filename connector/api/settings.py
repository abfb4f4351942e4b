"""ClientSettings: how hard and how patiently the connector drives the server, declared once.

Each setting has one default, one description and, where a deployment sets it, its environment
variable. The client takes a `ClientSettings`; the Dagster resource's fields, the extraction's page
size and concurrency, the environment mapping and docs/configuration.md's tuning table follow it.
"""

import dataclasses
from dataclasses import dataclass, field

from connector.api import options
from connector.api.options import Timeout


def _about(doc: str, env: str | None = None) -> dict[str, str | None]:
    """A setting's metadata: its one-line description and its environment variable, if any."""
    return {"doc": doc, "env": env}


@dataclass(frozen=True)
class ClientSettings:
    """The client's tuning: paging, concurrency, timeouts, retries and token refresh.

    Checked when built: each error names the setting (finite, positive numbers; integers where a
    count is meant).
    """

    page_size: int = field(
        default=1000, metadata=_about("Rows per list-method page.", "PORTABILLING_PAGE_SIZE")
    )
    max_concurrency: int = field(
        default=8,
        metadata=_about(
            "Requests in flight per run step, also the connection pool's size "
            "(production clients use 8-10).",
            "PORTABILLING_MAX_CONCURRENCY",
        ),
    )
    timeout_s: Timeout = field(
        default=60.0,
        metadata=_about(
            "Seconds to connect, and to wait for the next bytes of an answer.",
            "PORTABILLING_TIMEOUT_S",
        ),
    )
    attempt_deadline_s: float = field(
        default=120.0,
        metadata=_about(
            "Seconds one attempt may take as a whole, connect, headers and body included.",
            "PORTABILLING_ATTEMPT_DEADLINE_S",
        ),
    )
    retry_budget_s: float = field(
        default=300.0,
        metadata=_about(
            "Seconds one call may spend on attempts and backoff before it fails.",
            "PORTABILLING_RETRY_BUDGET_S",
        ),
    )
    refresh_margin_s: float = field(
        default=300.0,
        metadata=_about(
            "Refresh the access token this long before it expires (at most a third of its life).",
            "PORTABILLING_REFRESH_MARGIN_S",
        ),
    )
    max_retries: int | None = field(
        default=None,
        metadata=_about("Retries of one call at most; None lets the retry budget decide."),
    )
    backoff_base_s: float = field(
        default=0.5,
        metadata=_about(
            "First backoff step: retry n waits uniform(0, min(cap, base * 2**n)) seconds."
        ),
    )
    backoff_cap_s: float = field(default=30.0, metadata=_about("Longest backoff step, seconds."))

    def __post_init__(self) -> None:
        options.check_at_least(1, page_size=self.page_size, max_concurrency=self.max_concurrency)
        options.check_timeout(timeout_s=self.timeout_s)
        options.check_positive(
            attempt_deadline_s=self.attempt_deadline_s,
            retry_budget_s=self.retry_budget_s,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
        )
        options.check_not_negative(refresh_margin_s=self.refresh_margin_s)
        if self.max_retries is not None:
            options.check_at_least(0, max_retries=self.max_retries)


DEFAULTS = ClientSettings()
SETTINGS = {setting.name: setting for setting in dataclasses.fields(ClientSettings)}


def describe(name: str) -> str:
    """The setting's one-line description, naming its environment variable if it has one."""
    metadata = SETTINGS[name].metadata
    return f"{metadata['doc']} ({metadata['env']})" if metadata["env"] else metadata["doc"]


def environment_variables() -> dict[str, str]:
    """Environment variable -> setting name, for the settings a deployment may set."""
    return {
        setting.metadata["env"]: name
        for name, setting in SETTINGS.items()
        if setting.metadata["env"]
    }
