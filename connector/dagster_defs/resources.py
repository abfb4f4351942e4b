"""Dagster resources: configuration only, each building its runtime object on demand."""

from typing import Any, Self

import dagster as dg
from pydantic import Field, PrivateAttr, model_validator

from connector.api.client import PortaBillingClient
from connector.api.limits import server_slots
from connector.api.settings import DEFAULTS, SETTINGS, ClientSettings, describe
from connector.api.token_cache import TokenCache
from connector.events.store import DEFAULT_EVENTS_DB, EventStore
from connector.store.backend import PARQUET, TABLE_FORMATS, Tables, open_tables


def _setting(name: str) -> Any:
    """A resource field for one of `ClientSettings`: its default and its description."""
    return Field(default=getattr(DEFAULTS, name), description=describe(name))


class PortaBillingResource(dg.ConfigurableResource):
    """Where and how to reach PortaBilling; `get_client()` builds a session-managing client."""

    url: str = Field(description="Base URL of the PortaBilling web server (PORTABILLING_URL).")
    login: str = Field(description="API user login (PORTABILLING_LOGIN).")
    password: str | None = Field(
        default=None, description="API user password (PORTABILLING_PASSWORD); or api_token."
    )
    api_token: str | None = Field(
        default=None, description="API token (PORTABILLING_API_TOKEN); or password."
    )
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    ca_bundle: str | None = Field(
        default=None, description="CA bundle to verify the server with (PORTABILLING_CA_BUNDLE)."
    )
    page_size: int = _setting("page_size")
    max_concurrency: int = _setting("max_concurrency")
    timeout_s: float = _setting("timeout_s")
    attempt_deadline_s: float = _setting("attempt_deadline_s")
    retry_budget_s: float = _setting("retry_budget_s")
    refresh_margin_s: float = _setting("refresh_margin_s")
    realm: str | None = Field(
        default=None,
        description="Log in to this realm with Session/login_to_realm: admin, reseller, customer "
        "or account (PORTABILLING_REALM); unset: Session/login.",
    )
    legacy_auth: bool = Field(
        default=False, description="Form-encoded auth_info/params for servers before MR101."
    )
    max_in_flight: int | None = Field(
        default=None,
        description="Requests in flight to this server over all runs and processes of a machine "
        "(PORTABILLING_MAX_IN_FLIGHT); see docs/deploy.md for the arithmetic with pools.",
    )
    share_session: bool = Field(
        default=True,
        description="One session per run, shared by its step processes through a token cache.",
    )
    _run_id: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _settings_are_valid(self) -> Self:
        """Refuse bad settings when the definitions load, naming the field."""
        self.get_settings()
        return self

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run.run_id if context.run is not None else None

    def get_settings(self) -> ClientSettings:
        """The client's settings from these fields; `max_in_flight` caps the concurrency."""
        named = {name: getattr(self, name) for name in SETTINGS if name in type(self).model_fields}
        concurrency = min(self.max_concurrency, self.max_in_flight or self.max_concurrency)
        return ClientSettings(**{**named, "max_concurrency": concurrency})

    def get_client(self, run_id: str | None = None) -> PortaBillingClient:
        """A new client; use it in a `with` block (a run's shared session outlives the block).

        In a run (or given `run_id`) the client shares the run's session with its other steps.
        """
        verify: bool | str = self.ca_bundle or self.verify_tls
        scope = run_id or self._run_id
        return PortaBillingClient(
            self.url,
            login=self.login,
            password=self.password,
            api_token=self.api_token,
            verify=verify,
            settings=self.get_settings(),
            legacy=self.legacy_auth,
            realm=self.realm,
            token_cache=self._token_cache(scope) if scope and self.share_session else None,
            request_slot=server_slots(self.url, self.max_in_flight).hold
            if self.max_in_flight
            else None,
            log=dg.get_dagster_logger("portabilling"),
        )

    def end_run_session(self, run_id: str) -> None:
        """Log out the session a run's steps shared, and forget it (at the run's end)."""
        self.get_client(run_id).close(end_shared_session=True)

    def _token_cache(self, scope: str) -> TokenCache:
        secret = self.password or self.api_token or ""
        # A realm's session is not another realm's: each gets its own entry.
        scope = f"{scope}@{self.realm}" if self.realm else scope
        return TokenCache(self.url, self.login, secret, scope=scope)


class ParquetStorageResource(dg.ConfigurableResource):
    """Root of the tables (a local folder or a URL such as `s3://bucket/prefix`), and format."""

    data_dir: str = Field(default="./data", description="PORTABILLING_DATA_DIR.")
    table_format: str = Field(
        default=PARQUET,
        description="PORTABILLING_TABLE_FORMAT: `parquet` (plain Parquet files) or `delta` "
        "(Delta Lake tables).",
    )

    @model_validator(mode="after")
    def _format_is_known(self) -> Self:
        """Refuse an unknown table format when the definitions load."""
        if self.table_format not in TABLE_FORMATS:
            raise ValueError(
                f"table_format must be one of {', '.join(TABLE_FORMATS)}, got {self.table_format!r}"
            )
        return self

    def get_store(self) -> Tables:
        """The tables under `data_dir`, in `table_format`."""
        return open_tables(self.data_dir, self.table_format)


class EventStoreResource(dg.ConfigurableResource):
    """The durable store the ESPF receiver writes and the events sensor and runs read."""

    path: str = Field(
        default=DEFAULT_EVENTS_DB,
        description="SQLite file of the event store (PORTABILLING_EVENTS_DB).",
    )

    def get_store(self) -> EventStore:
        """An open store; close it (or use it in a `with` block) when done."""
        return EventStore(self.path)
