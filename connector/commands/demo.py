"""`portabilling demo`: the main job against an embedded emulator, through the real definitions."""

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import dagster as dg

from connector.dagster_defs.project import (
    EVENTS_JOB,
    SNAPSHOT_JOB,
    XDRS_JOB,
    build_defs,
    table_format,
)
from connector.dagster_defs.resources import PortaBillingResource
from connector.emulator import Emulator, EmulatorConfig
from connector.entities import BUILT_IN, Registry
from connector.store.backend import Tables, open_tables
from connector.store.tables import EVENTS

DEMO_XDR_START = date(2024, 1, 1)
# Dagster's console logger at WARNING: the demo prints its own short progress lines.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="data", help="where the tables land (default ./data)")
    parser.add_argument(
        "--accounts", type=_positive, default=2000, help="accounts on the emulator (default 2000)"
    )
    parser.add_argument(
        "--customers", type=_positive, default=100, help="customers on the emulator (default 100)"
    )
    parser.add_argument(
        "--days", type=_positive, default=3, help="daily xDR partitions to extract (default 3)"
    )


def run(args: argparse.Namespace) -> int:
    config = EmulatorConfig(
        customers=args.customers,
        accounts=args.accounts,
        xdr_start=DEMO_XDR_START,
        xdr_days=args.days,
    )
    started = time.monotonic()
    with Emulator(config) as emulator:
        print(f"emulator: {emulator.url} ({args.accounts} accounts, {args.customers} customers)")
        session = PortaBillingResource(
            url=emulator.url, login=emulator.login, password=emulator.password
        )
        with _environment(_demo_environment(emulator, args.data_dir)):
            defs = build_defs()
            _run_job(defs, session, SNAPSHOT_JOB)
            _run_job(defs, session, EVENTS_JOB)
            for day in range(args.days):
                day_key = (DEMO_XDR_START + timedelta(days=day)).isoformat()
                _run_job(defs, session, XDRS_JOB, day_key)
    _print_summary(args.data_dir, time.monotonic() - started)
    return 0


def _demo_environment(emulator: Emulator, data_dir: str) -> dict[str, str]:
    return {
        "PORTABILLING_URL": emulator.url,
        "PORTABILLING_LOGIN": emulator.login,
        "PORTABILLING_PASSWORD": emulator.password,
        "PORTABILLING_DATA_DIR": data_dir,
        "PORTABILLING_XDR_START_DATE": DEMO_XDR_START.isoformat(),
        "PORTABILLING_EVENTS_DB": os.path.join(data_dir, "_events.sqlite3"),
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (the definitions read them as `EnvVar`s)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_job(
    defs: dg.Definitions,
    session: PortaBillingResource,
    name: str,
    partition_key: str | None = None,
) -> None:
    """Run a job in this process, then log out its session (no daemon runs the logout sensor)."""
    label = name if partition_key is None else f"{name} [{partition_key}]"
    print(f"running {label} ...", flush=True)
    result = defs.resolve_job_def(name).execute_in_process(
        partition_key=partition_key, run_config=QUIET, raise_on_error=False
    )
    session.end_run_session(result.run_id)
    if not result.success:
        raise RuntimeError(f"{label} failed")


def _print_summary(data_dir: str, seconds: float) -> None:
    print(f"\ntables under {data_dir} ({seconds:.1f} s):")
    for line in summary(open_tables(data_dir, table_format(os.environ)), BUILT_IN):
        print(line)


def summary(store: Tables, entities: Registry) -> list[str]:
    """One line per table: every entity's, then the events'."""
    tables = [entity.name for entity in entities] + [EVENTS.name]
    width = max(map(len, tables))
    return [
        f"  {table:<{width}} {store.row_count(table):>9,} rows  {store.table_uri(table)}"
        for table in tables
    ]


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
