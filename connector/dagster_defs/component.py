"""`PortaBillingComponent`: one PortaBilling server's tables, configured in a `defs.yaml`.

```yaml
type: connector.dagster_defs.component.PortaBillingComponent
attributes:
  name: prod
  connection: {url: "{{ env.PB_URL }}", login: api, password: "{{ env.PB_PASSWORD }}"}
  data_dir: ./data/prod
```

It builds what `definitions.py` builds from the environment, through the same factory
(`connector.dagster_defs.project.instance_defs`), with the instance's name in every job,
schedule, sensor and resource name, so several servers sit side by side in one code location.
"""

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal, Self

import dagster as dg
from pydantic import ConfigDict, Field, FiniteFloat, PositiveInt, model_validator

from connector.api.settings import describe
from connector.dagster_defs.maintenance import DEFAULT_MAINTENANCE_CRON
from connector.dagster_defs.naming import Naming
from connector.dagster_defs.project import (
    DEFAULT_DAILY_HOUR,
    DEFAULT_SENSOR_INTERVAL_S,
    DEFAULT_SNAPSHOT_CRON,
    DEFAULT_XDR_START,
    Instance,
    instance_defs,
)
from connector.dagster_defs.resources import (
    EventStoreResource,
    ParquetStorageResource,
    PortaBillingResource,
)
from connector.dagster_defs.scaffold import PortaBillingScaffolder
from connector.dagster_defs.translator import PortaBillingTableProps, PortaBillingTranslator
from connector.entities import (
    BUILT_IN,
    DailyPartitions,
    DateFilter,
    Entity,
    FullSnapshot,
    ListMethod,
    RecentWindow,
    Registry,
)
from connector.entities.declaration import API_DATETIME, Refresh
from connector.entities.declared import COLUMN_TYPES, declared_entity, without_columns

ENV_TEMPLATE = re.compile(r"\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME = r"^[a-z][a-z0-9_]*$"
BUILT_IN_NAMES = ", ".join(entity.name for entity in BUILT_IN)
DATE_FORMATS = {"datetime": API_DATETIME, "date": "%Y-%m-%d"}
ColumnType = Literal["int", "money", "date", "datetime", "flag", "json", "text"]


def _resolve_setting(context: dg.ResolutionContext, raw: str | None) -> str | dg.EnvVar | None:
    """`{{ env.X }}` stays an `EnvVar`, read at run time (never in the UI or run config)."""
    if raw is None:
        return None
    named = ENV_TEMPLATE.fullmatch(raw.strip())
    return dg.EnvVar(named.group(1)) if named else context.resolve_value(raw, as_type=str)


# Connection settings: a value, or `{{ env.NAME }}` read from the environment at run time.
Setting = Annotated[
    Any, dg.Resolver(_resolve_setting, inject_before_resolve=False, model_field_type=str)
]
OptionalSetting = Annotated[
    Any, dg.Resolver(_resolve_setting, inject_before_resolve=False, model_field_type=str | None)
]
Freshness = Annotated[dg.FreshnessPolicy | None, dg.Resolver.default(model_field_type=str | None)]
Automation = Annotated[
    dg.AutomationCondition | None, dg.Resolver.default(model_field_type=str | None)
]


def _tuning(name: str) -> Any:
    """An optional tuning field described as `ClientSettings` describes it."""
    return Field(default=None, description=describe(name))


PositiveFinite = Annotated[FiniteFloat, Field(gt=0)]


class Connection(dg.Resolvable, dg.Model):
    """Where and how to reach the PortaBilling server."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # no secret in errors

    url: Setting = Field(description="Base URL of the PortaBilling web server.")
    login: Setting = Field(description="API user login.")
    password: OptionalSetting = Field(default=None, description="API user password; or api_token.")
    api_token: OptionalSetting = Field(default=None, description="API token; or password.")
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    ca_bundle: OptionalSetting = Field(default=None, description="CA bundle to verify with.")
    realm: Literal["admin", "reseller", "customer", "account"] | None = Field(
        default=None, description="Log in to this realm with Session/login_to_realm."
    )
    legacy_auth: bool = Field(default=False, description="Form-encoded API (before MR101).")


class Tuning(dg.Resolvable, dg.Model):
    """The client's knobs (unset: the defaults `ClientSettings` declares, as in the README)."""

    page_size: PositiveInt | None = _tuning("page_size")
    max_concurrency: PositiveInt | None = _tuning("max_concurrency")
    timeout_s: PositiveFinite | None = _tuning("timeout_s")
    attempt_deadline_s: PositiveFinite | None = _tuning("attempt_deadline_s")
    retry_budget_s: PositiveFinite | None = _tuning("retry_budget_s")
    refresh_margin_s: PositiveFinite | None = _tuning("refresh_margin_s")
    max_in_flight: PositiveInt | None = Field(
        default=None, description="Requests in flight to this server over a whole machine."
    )


class Schedules(dg.Resolvable, dg.Model):
    """When the instance's jobs run (schedules are defined stopped)."""

    snapshot_cron: str = Field(
        default=DEFAULT_SNAPSHOT_CRON, description="Snapshot job, cron in UTC."
    )
    daily_hour: int = Field(
        default=DEFAULT_DAILY_HOUR, ge=0, le=23, description="Daily job's hour (UTC)."
    )
    events_sensor_interval_s: PositiveInt = Field(
        default=DEFAULT_SENSOR_INTERVAL_S, description="Minimum interval of the events sensor."
    )
    maintenance_cron: str = Field(
        default=DEFAULT_MAINTENANCE_CRON,
        description="Maintenance job (compaction; Delta: optimize, vacuum), cron in UTC.",
    )


class DateFilterSpec(dg.Resolvable, dg.Model):
    """The list method's parameters bounding a time range (`after <= t < before`, UTC)."""

    after: str = Field(description="Parameter of the range's start, e.g. `from_date`.")
    before: str = Field(description="Parameter of the range's end, e.g. `to_date`.")
    format: Literal["datetime", "date"] = Field(
        default="datetime", description="`YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` values."
    )
    refresh: Literal["daily_partitions", "recent_window"] = Field(
        default="daily_partitions",
        description="One partition per UTC day (`date=YYYY-MM-DD`, in the daily job), or each "
        "snapshot-job run re-reads the last `window_days` and merges them by key.",
    )
    window_days: PositiveInt = Field(default=60, description="Days a recent window re-reads.")

    def date_filter(self) -> DateFilter:
        return DateFilter(self.after, self.before, DATE_FORMATS[self.format])

    def mode(self) -> Refresh:
        """How a table with this filter refreshes."""
        if self.refresh == "daily_partitions":
            return DailyPartitions()
        return RecentWindow(self.window_days)


class Table(dg.Resolvable, dg.Model):
    """A built-in table by `name`, or any paged list method: `name`, `method`, `list_key`, `key`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)  # resolved policies

    name: str = Field(
        pattern=NAME, description=f"A built-in table ({BUILT_IN_NAMES}) or a new one."
    )
    method: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]\w*/\w+$",
        description="Declared tables: the list method, `Service/method`.",
    )
    list_key: str | None = Field(
        default=None, description="Declared tables: the answer's list of rows (`tariff_list`)."
    )
    key: str | None = Field(
        default=None, description="Declared tables: the integer key column of a row (`i_tariff`)."
    )
    description: str | None = Field(default=None, description="Declared tables: what it holds.")
    columns: dict[str, ColumnType] = Field(
        default={},
        description=f"Declared tables: column types ({', '.join(COLUMN_TYPES)}); "
        "other fields are typed as they come.",
    )
    date_filter: DateFilterSpec | None = Field(
        default=None, description="Declared tables: a date filter (daily partitions by default)."
    )
    exclude_columns: list[str] = Field(
        default=[], description="Columns kept out of files, metadata, previews and events."
    )
    owners: list[str] | None = Field(default=None, description="Owners of this table's asset.")
    tags: dict[str, str] = Field(default={}, description="Tags of this table's asset.")
    freshness_policy: Freshness = Field(
        default=None,
        description="This table's freshness policy, e.g. "
        "`{{ dg.FreshnessPolicy.time_window(fail_window=datetime.timedelta(hours=26)) }}`.",
    )
    automation_condition: Automation = Field(
        default=None,
        description="Also materialize this table on a condition, e.g. "
        "`{{ dg.AutomationCondition.on_cron('0 4 * * *') }}`.",
    )

    def mistakes(self) -> dict[str, str]:
        """Attribute -> what is wrong with it; empty when the table is well declared."""
        if self.method is None and self.name not in BUILT_IN:
            return {"method": f"{self.name} is not built in ({BUILT_IN_NAMES}): declare it"}
        if self.method is None:
            found = {
                f: "only for declared tables (with a method)" for f in DECLARED if getattr(self, f)
            }
            key: str | None = BUILT_IN[self.name].table.key
        else:
            needed = ("list_key", "key")
            found = {f: "a declared table needs it" for f in needed if not getattr(self, f)}
            if self.name in BUILT_IN:
                found["name"] = f"{self.name} is a built-in table: choose another name"
            key = self.key
        if key in self.exclude_columns:
            found["exclude_columns"] = f"the key {key} cannot be excluded"
        return found

    def entity(self) -> Entity:
        """The table's entity, built in or declared, its excluded columns kept out."""
        return without_columns(self._declared(), self.exclude_columns)

    def _declared(self) -> Entity:
        if self.method is None:
            return BUILT_IN[self.name]
        service, method = self.method.split("/")
        window = self.date_filter
        dates = window.date_filter() if window else None
        listed = ListMethod(service, method, str(self.list_key), str(self.key), dates)
        refresh = window.mode() if window else FullSnapshot()
        return declared_entity(self.name, listed, self.columns, refresh, self.description)


DECLARED = ("list_key", "key", "description", "columns", "date_filter")


@dg.scaffold_with(PortaBillingScaffolder)
class PortaBillingComponent(dg.Component, dg.Resolvable, dg.Model):
    """One PortaBilling server: its tables as assets with checks, jobs, schedules and sensors."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # no secret in errors

    name: str = Field(pattern=NAME, description="Instance name, in every job/resource name.")
    connection: Connection = Field(description="Where and how to reach the server.")
    data_dir: str = Field(description="Root of the tables: a local path or an fsspec URL.")
    table_format: Literal["parquet", "delta"] = Field(
        default="parquet",
        description="`parquet` (plain Parquet files) or `delta` (Delta Lake, docs/delta.md).",
    )
    events_db: str | None = Field(
        default=None, description="Event store (SQLite); default `<data_dir>/_events.sqlite3`."
    )
    xdr_start_date: str = Field(
        default=DEFAULT_XDR_START,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="First daily partition, `YYYY-MM-DD`.",
    )
    tables: list[Table] | None = Field(
        default=None, description="Tables to extract (default: every built-in table)."
    )
    tuning: Tuning = Field(default=Tuning(), description="The client's knobs.")
    schedules: Schedules = Field(default=Schedules(), description="When the jobs run.")
    key_prefix: list[str] | None = Field(
        default=None, description="Asset key prefix (default `[portabilling, <name>]`)."
    )
    group_name: str | None = Field(
        default=None, description="Asset group (default `portabilling_<name>`)."
    )
    owners: list[str] = Field(default=[], description="Owners of every table's asset.")
    tags: dict[str, str] = Field(default={}, description="Tags of every table's asset.")

    @model_validator(mode="after")
    def _tables_are_well_declared(self) -> Self:
        """Refuse a table's mistakes when the YAML loads, naming the attribute's path."""
        mistakes = [
            f"attributes.tables[{i}].{field}: {why}"
            for i, table in enumerate(self.tables or [])
            for field, why in table.mistakes().items()
        ]
        if mistakes:
            raise ValueError("; ".join(mistakes))
        return self

    @property
    def translator(self) -> PortaBillingTranslator:
        """Override (in a subclass) to change the assets' specs."""
        return PortaBillingTranslator()

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return instance_defs(self.instance())

    def instance(self) -> Instance:
        """What the factory builds this server's definitions from."""
        return Instance(
            portabilling=self._resource(),
            storage=ParquetStorageResource(data_dir=self.data_dir, table_format=self.table_format),
            events_store=EventStoreResource(
                path=self.events_db or f"{self.data_dir.rstrip('/')}/_events.sqlite3"
            ),
            xdr_start=date.fromisoformat(self.xdr_start_date),
            entities=Registry(table.entity() for table in self._tables()),
            naming=Naming(tuple(self.key_prefix or ["portabilling", self.name]), self.name),
            sensor_interval_s=self.schedules.events_sensor_interval_s,
            snapshot_cron=self.schedules.snapshot_cron,
            daily_hour=self.schedules.daily_hour,
            maintenance_cron=self.schedules.maintenance_cron,
            spec=self._spec,
        )

    def _tables(self) -> Sequence[Table]:
        return self.tables or [Table(name=entity.name) for entity in BUILT_IN]

    def _resource(self) -> PortaBillingResource:
        connection = self.connection.model_dump(exclude_none=True)
        tuning = self.tuning.model_dump(exclude_none=True)
        return PortaBillingResource(**connection, **tuning)

    def _spec(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        """The attributes' owners, tags, group and policies, then the translator's word."""
        table = spec.key.path[-1]
        chosen = {t.name: t for t in self._tables()}.get(table, Table(name=table))
        updated = spec.replace_attributes(
            group_name=self.group_name or f"portabilling_{self.name}",
            owners=[*self.owners, *(chosen.owners or [])],
            tags={**spec.tags, **self.tags, **chosen.tags},
            freshness_policy=chosen.freshness_policy,
            automation_condition=chosen.automation_condition,
        )
        props = PortaBillingTableProps(instance=self.name, table=table, spec=updated)
        return self.translator.get_asset_spec(props)
