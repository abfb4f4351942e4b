"""The Dagster definitions, wired from the environment (see docs/configuration.md)."""

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg

from connector.api.auth import REALMS
from connector.api.errors import ConfigurationError
from connector.api.settings import environment_variables
from connector.dagster_defs.assets import dead_letters_check, entity_assets, events_asset
from connector.dagster_defs.maintenance import (
    DEFAULT_MAINTENANCE_CRON,
    maintenance_job,
    maintenance_schedule,
)
from connector.dagster_defs.naming import DEFAULT_NAMING, Naming
from connector.dagster_defs.resources import (
    EventStoreResource,
    ParquetStorageResource,
    PortaBillingResource,
)
from connector.dagster_defs.run_sessions import session_logout_sensors
from connector.dagster_defs.sensors import events_sensor
from connector.entities import (
    BUILT_IN,
    DailyPartitions,
    Entity,
    FullSnapshot,
    RecentWindow,
    Registry,
)
from connector.events.store import default_events_db_path
from connector.store.backend import PARQUET, TABLE_FORMATS
from connector.store.tables import EVENTS

DEFAULT_XDR_START = "2024-01-01"
DEFAULT_DATA_DIR = "./data"
SNAPSHOT_JOB = DEFAULT_NAMING.name("snapshot_job")
XDRS_JOB = DEFAULT_NAMING.name("xdrs_job")
EVENTS_JOB = DEFAULT_NAMING.name("events_job")
DEFAULT_SENSOR_INTERVAL_S = 30
DEFAULT_OWNERS = "team:data-platform"  # shown in the UI; PORTABILLING_OWNERS names yours
DEFAULT_SNAPSHOT_CRON = "0 2 * * *"  # UTC
DEFAULT_DAILY_HOUR = 3  # UTC: yesterday's partition
# Both jobs that write accounts/customers carry this tag: a run-queue tag limit of 1 on it keeps
# one from waiting on the other's table locks (docs/deploy.md).
WRITES_ENTITY_TABLES = {"portabilling/writes": "entity-tables"}
# In-process by default: a step's concurrency is the client's threads, and a step subprocess would
# pay Dagster's start-up again (measured: 51.6 s -> 30.8 s and 543 -> 361 MB for 100k accounts).
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
# Tuning knobs: environment variable -> resource field (client settings, machine-wide cap).
TUNING = {**environment_variables(), "PORTABILLING_MAX_IN_FLIGHT": "max_in_flight"}


@dataclass(frozen=True)
class Instance:
    """One PortaBilling server's definitions: its resources, tables, names and schedules."""

    portabilling: PortaBillingResource
    storage: ParquetStorageResource
    events_store: EventStoreResource
    xdr_start: date
    entities: Registry = BUILT_IN
    naming: Naming = DEFAULT_NAMING
    sensor_interval_s: int = DEFAULT_SENSOR_INTERVAL_S
    snapshot_cron: str = DEFAULT_SNAPSHOT_CRON
    daily_hour: int = DEFAULT_DAILY_HOUR
    maintenance_cron: str = DEFAULT_MAINTENANCE_CRON
    spec: Callable[[dg.AssetSpec], dg.AssetSpec] = lambda spec: spec  # owners, tags, freshness


def build_defs(
    environ: Mapping[str, str] = os.environ, entities: Registry = BUILT_IN
) -> dg.Definitions:
    """The environment's one instance; secrets stay `EnvVar`s until run time."""
    named_owners = owners(environ)
    instance = Instance(
        portabilling=portabilling_resource(environ),
        storage=ParquetStorageResource(
            data_dir=_env_or(environ, "PORTABILLING_DATA_DIR", DEFAULT_DATA_DIR),
            table_format=table_format(environ),
        ),
        events_store=EventStoreResource(path=default_events_db_path(environ)),
        xdr_start=xdr_start_date(environ),
        entities=entities.with_window_days(window_days(environ, entities)),
        spec=lambda spec: spec.replace_attributes(owners=named_owners),
        sensor_interval_s=int(parse_number(environ, "PORTABILLING_EVENTS_SENSOR_INTERVAL_S"))
        if environ.get("PORTABILLING_EVENTS_SENSOR_INTERVAL_S")
        else DEFAULT_SENSOR_INTERVAL_S,
    )
    return dg.Definitions.merge(instance_defs(instance), dg.Definitions(executor=executor(environ)))


def instance_defs(instance: Instance) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources of one instance."""
    naming, entities = instance.naming, instance.entities
    partitions = dg.DailyPartitionsDefinition(
        start_date=instance.xdr_start.isoformat(), timezone="UTC"
    )
    built = [*entity_assets(entities, partitions, naming), events_asset(entities, naming)]
    assets = {a.key: a.map_asset_specs(instance.spec) for a in built}
    events_job = dg.define_asset_job(
        naming.name("events_job"),
        selection=dg.AssetSelection.assets(assets[naming.asset_key(EVENTS.name)]),
        description=f"Apply pending provisioning events to {_names(_routed(entities))} in place.",
        tags=WRITES_ENTITY_TABLES,
    )
    maintenance = maintenance_job([*(e.name for e in entities), EVENTS.name], naming)
    scheduled = [
        *_snapshot_schedule(instance, assets),
        *_daily_schedule(instance, assets),
        (maintenance, maintenance_schedule(maintenance, instance.maintenance_cron, naming)),
    ]
    return dg.Definitions(
        assets=list(assets.values()),
        asset_checks=[dead_letters_check(naming)],
        jobs=[*(job for job, _ in scheduled), events_job],
        sensors=[
            events_sensor(events_job.name, instance.sensor_interval_s, naming),
            *session_logout_sensors(naming),
        ],
        schedules=[schedule for _, schedule in scheduled],
        resources={
            naming.portabilling: instance.portabilling,
            naming.storage: instance.storage,
            naming.events_store: instance.events_store,
        },
    )


Assets = Mapping[dg.AssetKey, dg.AssetsDefinition]
# Asset jobs and their schedules (Dagster's types for both are not public).
Scheduled = list[tuple[Any, Any]]


def _snapshot_schedule(instance: Instance, assets: Assets) -> Scheduled:
    """The snapshot job on its schedule, if any entity is refreshed by snapshots or windows."""
    entities, naming = instance.entities, instance.naming
    snapshots = entities.refreshed_by(FullSnapshot, RecentWindow)
    if not snapshots:
        return []
    job = dg.define_asset_job(
        naming.name("snapshot_job"),
        selection=_selection(assets, snapshots, naming),
        description=f"{_snapshots(entities)}.",
        tags=WRITES_ENTITY_TABLES,
    )
    return [
        (
            job,
            dg.ScheduleDefinition(
                name=naming.name("daily_snapshot"),
                job=job,
                cron_schedule=instance.snapshot_cron,
                execution_timezone="UTC",
                description=f"{_snapshots(entities)}, on `{instance.snapshot_cron}` (UTC).",
            ),
        )
    ]


def _daily_schedule(instance: Instance, assets: Assets) -> Scheduled:
    """The daily-partitions job on its schedule, if any entity is read a day at a time."""
    naming, daily = instance.naming, instance.entities.refreshed_by(DailyPartitions)
    if not daily:
        return []
    job = dg.define_asset_job(
        naming.name("xdrs_job"),
        selection=_selection(assets, daily, naming),
        description=f"One UTC day of {_names(daily)}.",
    )
    return [
        (
            job,
            dg.build_schedule_from_partitioned_job(
                job,
                name=naming.name("daily_xdrs"),
                hour_of_day=instance.daily_hour,
                description=f"Yesterday's partition of {_names(daily)} every day at "
                f"{instance.daily_hour:02d}:00 UTC.",
            ),
        )
    ]


def _selection(assets: Assets, entities: list[Entity], naming: Naming) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(assets[naming.asset_key(e.name)] for e in entities))


def _names(entities: list[Entity]) -> str:
    """`customers and accounts`, `a, b and c`."""
    names = [entity.name for entity in entities]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def _snapshots(entities: Registry) -> str:
    """What the snapshot job does, in words."""
    text = f"Full snapshots of {_names(entities.refreshed_by(FullSnapshot))}"
    windows = entities.refreshed_by(RecentWindow)
    return f"{text}; recent windows of {_names(windows)} merged by key" if windows else text


def _routed(entities: Registry) -> list[Entity]:
    """The entities events update in place."""
    return [entity for entity in entities if entity.events]


def portabilling_resource(environ: Mapping[str, str]) -> PortaBillingResource:
    """The API resource: URL, login and the secret come from `EnvVar`s, read at run time."""
    secret = {
        field: dg.EnvVar(name)
        for field, name in (
            ("password", "PORTABILLING_PASSWORD"),
            ("api_token", "PORTABILLING_API_TOKEN"),
        )
        if environ.get(name)
    }
    settings: dict[str, Any] = {
        "url": dg.EnvVar("PORTABILLING_URL"),
        "login": dg.EnvVar("PORTABILLING_LOGIN"),
        "verify_tls": parse_bool(environ, "PORTABILLING_VERIFY_TLS", default=True),
        "legacy_auth": parse_bool(environ, "PORTABILLING_LEGACY_API", default=False),
        **secret,
    }
    if environ.get("PORTABILLING_CA_BUNDLE"):
        settings["ca_bundle"] = dg.EnvVar("PORTABILLING_CA_BUNDLE")
    if environ.get("PORTABILLING_REALM"):
        settings["realm"] = parse_realm(environ)
    for name, field in TUNING.items():
        if environ.get(name):
            settings[field] = parse_number(environ, name)
    return PortaBillingResource(**settings)


def owners(environ: Mapping[str, str]) -> list[str]:
    """`PORTABILLING_OWNERS`: comma-separated e-mail addresses or `team:<name>`s of every asset."""
    text = environ.get("PORTABILLING_OWNERS") or DEFAULT_OWNERS
    named = [owner.strip() for owner in text.split(",") if owner.strip()]
    for owner in named:
        if "@" not in owner and not owner.startswith("team:"):
            raise ConfigurationError(
                f"PORTABILLING_OWNERS: each owner is an e-mail or team:<name>, got {owner!r}"
            )
    return named


def window_days(environ: Mapping[str, str], entities: Registry) -> dict[str, int]:
    """Recent windows the environment sizes (`PORTABILLING_INVOICE_WINDOW_DAYS`), by entity."""
    return {
        name: int(parse_number(environ, setting))
        for name, setting in entities.window_settings().items()
        if environ.get(setting)
    }


def executor(environ: Mapping[str, str]) -> dg.ExecutorDefinition:
    """`PORTABILLING_EXECUTOR`: `in_process` (default) or `multiprocess` (one process per step)."""
    name = environ.get("PORTABILLING_EXECUTOR") or "in_process"
    if name not in EXECUTORS:
        raise ConfigurationError(
            f"PORTABILLING_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {name!r}"
        )
    return EXECUTORS[name]


def table_format(environ: Mapping[str, str]) -> str:
    """`PORTABILLING_TABLE_FORMAT`: `parquet` (default) or `delta` (Delta Lake tables)."""
    name = environ.get("PORTABILLING_TABLE_FORMAT", "").strip() or PARQUET
    if name not in TABLE_FORMATS:
        raise ConfigurationError(
            f"PORTABILLING_TABLE_FORMAT must be one of {', '.join(TABLE_FORMATS)}, got {name!r}"
        )
    return name


def xdr_start_date(environ: Mapping[str, str]) -> date:
    text = environ.get("PORTABILLING_XDR_START_DATE") or DEFAULT_XDR_START
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"PORTABILLING_XDR_START_DATE must be YYYY-MM-DD, got {text!r}"
        ) from None


def parse_realm(environ: Mapping[str, str]) -> str:
    """`PORTABILLING_REALM`: the realm `Session/login_to_realm` logs in to."""
    text = environ["PORTABILLING_REALM"].strip()
    if text not in REALMS:
        raise ConfigurationError(
            f"PORTABILLING_REALM must be one of {', '.join(REALMS)}, got {text!r}"
        )
    return text


def parse_bool(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {text!r}")


def parse_number(environ: Mapping[str, str], name: str) -> float | int:
    text = environ[name].strip()
    try:
        number = float(text) if "." in text else int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {text!r}") from None
    if not 0 < number < math.inf:  # NaN fails both comparisons
        raise ConfigurationError(f"{name} must be a finite positive number, got {text!r}")
    return number


def _env_or(environ: Mapping[str, str], name: str, default: str) -> str | dg.EnvVar:
    return dg.EnvVar(name) if environ.get(name) else default
