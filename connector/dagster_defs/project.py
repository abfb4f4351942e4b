"""The Dagster definitions, wired from the environment (see docs/configuration.md)."""

import math
import os
from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg

from connector.api.auth import REALMS
from connector.api.errors import ConfigurationError
from connector.api.settings import environment_variables
from connector.dagster_defs.assets import asset_key, dead_letters_check, entity_assets, events_asset
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

DEFAULT_XDR_START = "2024-01-01"
DEFAULT_DATA_DIR = "./data"
SNAPSHOT_JOB = "portabilling_snapshot_job"
XDRS_JOB = "portabilling_xdrs_job"
EVENTS_JOB = "portabilling_events_job"
DEFAULT_SENSOR_INTERVAL_S = 30
DEFAULT_OWNERS = "team:data-platform"  # shown in the UI; PORTABILLING_OWNERS names yours
# Both jobs that write accounts/customers carry this tag: a run-queue tag limit of 1 on it keeps
# them from overlapping across machines (docs/deploy.md), where table locks cannot reach.
WRITES_ENTITY_TABLES = {"portabilling/writes": "entity-tables"}
# In-process by default: a step's concurrency is the client's threads, and a step subprocess would
# pay Dagster's start-up again (measured: 51.6 s -> 30.8 s and 543 -> 361 MB for 100k accounts).
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
# Tuning knobs: environment variable -> resource field (client settings, machine-wide cap).
TUNING = {**environment_variables(), "PORTABILLING_MAX_IN_FLIGHT": "max_in_flight"}


def build_defs(
    environ: Mapping[str, str] = os.environ, entities: Registry = BUILT_IN
) -> dg.Definitions:
    """Assets, checks, jobs, schedules and resources; secrets stay `EnvVar`s until run time."""
    entities = entities.with_window_days(window_days(environ, entities))
    partitions = dg.DailyPartitionsDefinition(
        start_date=xdr_start_date(environ).isoformat(), timezone="UTC"
    )
    assets = {a.key: a for a in entity_assets(entities, partitions)}
    events = events_asset(entities)
    snapshots = entities.refreshed_by(FullSnapshot, RecentWindow)
    daily = entities.refreshed_by(DailyPartitions)
    snapshot_job = dg.define_asset_job(
        SNAPSHOT_JOB,
        selection=_selection(assets, snapshots),
        description=f"{_snapshots(entities)}.",
        tags=WRITES_ENTITY_TABLES,
    )
    daily_job = dg.define_asset_job(
        XDRS_JOB,
        selection=_selection(assets, daily),
        description=f"One UTC day of {_names(daily)}.",
    )
    events_job = dg.define_asset_job(
        EVENTS_JOB,
        selection=dg.AssetSelection.assets(events),
        description=f"Apply pending provisioning events to {_names(_routed(entities))} in place.",
        tags=WRITES_ENTITY_TABLES,
    )
    interval = environ.get("PORTABILLING_EVENTS_SENSOR_INTERVAL_S")
    owned = dg.map_asset_specs(
        lambda spec: spec.replace_attributes(owners=owners(environ)), [*assets.values(), events]
    )
    return dg.Definitions(
        executor=executor(environ),
        assets=owned,
        asset_checks=[dead_letters_check],
        jobs=[snapshot_job, daily_job, events_job],
        sensors=[
            events_sensor(
                EVENTS_JOB,
                int(parse_number(environ, "PORTABILLING_EVENTS_SENSOR_INTERVAL_S"))
                if interval
                else DEFAULT_SENSOR_INTERVAL_S,
            ),
            *session_logout_sensors(),
        ],
        schedules=[
            dg.ScheduleDefinition(
                name="portabilling_daily_snapshot",
                job=snapshot_job,
                cron_schedule="0 2 * * *",
                execution_timezone="UTC",
                description=f"{_snapshots(entities)}, every day at 02:00 UTC.",
            ),
            dg.build_schedule_from_partitioned_job(
                daily_job,
                name="portabilling_daily_xdrs",
                hour_of_day=3,
                description=f"Yesterday's partition of {_names(daily)} every day at 03:00 UTC.",
            ),
        ],
        resources={
            "portabilling": portabilling_resource(environ),
            "storage": ParquetStorageResource(
                data_dir=_env_or(environ, "PORTABILLING_DATA_DIR", DEFAULT_DATA_DIR)
            ),
            "events_store": EventStoreResource(path=default_events_db_path(environ)),
        },
    )


def _selection(
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition], entities: list[Entity]
) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(assets[asset_key(entity.name)] for entity in entities))


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
