"""Dagster resources: configuration only, each building its runtime object on demand."""

import dagster as dg
from pydantic import Field, PrivateAttr

from connector.client import PortaBillingClient
from connector.events.store import DEFAULT_EVENTS_DB, EventStore
from connector.limits import server_slots
from connector.storage import TableStore
from connector.token_cache import TokenCache


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
    timeout_s: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="Read timeout of one request, seconds (PORTABILLING_TIMEOUT_S).",
    )
    attempt_deadline_s: float = Field(
        default=120.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds one attempt may take as a whole, body included "
        "(PORTABILLING_ATTEMPT_DEADLINE_S).",
    )
    retry_budget_s: float = Field(
        default=300.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds one call may spend retrying before it fails "
        "(PORTABILLING_RETRY_BUDGET_S).",
    )
    max_concurrency: int = Field(
        default=8, description="Requests in flight per run step (production clients use 8-10)."
    )
    page_size: int = Field(default=1000, description="Rows per list-method page.")
    refresh_margin_s: float = Field(
        default=300.0,
        ge=0,
        allow_inf_nan=False,
        description="Refresh the access token this long before it expires, at most a third of "
        "its lifetime (PORTABILLING_REFRESH_MARGIN_S).",
    )
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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run.run_id if context.run is not None else None

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
            timeout=self.timeout_s,
            attempt_deadline=self.attempt_deadline_s,
            retry_deadline=self.retry_budget_s,
            legacy=self.legacy_auth,
            max_concurrency=min(self.max_concurrency, self.max_in_flight or self.max_concurrency),
            refresh_margin=self.refresh_margin_s,
            realm=self.realm,
            token_cache=self._token_cache(scope) if scope and self.share_session else None,
            request_slot=server_slots(self.url, self.max_in_flight).hold
            if self.max_in_flight
            else None,
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
    """Root of the Parquet tables: a local folder or an fsspec URL such as `s3://bucket/prefix`."""

    data_dir: str = Field(default="./data", description="PORTABILLING_DATA_DIR.")

    def get_store(self) -> TableStore:
        return TableStore(self.data_dir)


class EventStoreResource(dg.ConfigurableResource):
    """The durable store the ESPF receiver writes and the events sensor and runs read."""

    path: str = Field(
        default=DEFAULT_EVENTS_DB,
        description="SQLite file of the event store (PORTABILLING_EVENTS_DB).",
    )

    def get_store(self) -> EventStore:
        """An open store; close it (or use it in a `with` block) when done."""
        return EventStore(self.path)
