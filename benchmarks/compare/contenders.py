"""The contenders: how each is started, and how many rows it landed."""

import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
# What benchmarks write (raw results, rendered reports): ignored by git.
OUT = REPO / "benchmarks" / "out"
HERE = Path(__file__).resolve().parent
LOGIN, PASSWORD = "demo", "exAmple"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Contender:
    """One way of landing the accounts table: a command line and where its rows end up."""

    name: str
    command: Callable[[str, Path], list[str]]
    rows: Callable[[Path, str], int]
    env: Callable[[str, Path], dict[str, str]] = lambda url, work: dict(os.environ)


def parquet_rows(folder: Path) -> int:
    """Rows in every Parquet file under `folder`, from the file footers."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.rglob("*.parquet"))


# A deployed Dagster keeps its instance (DAGSTER_HOME: run and event storage) from run to run; a
# first run on a new machine also creates the SQLite databases (~1 s). `ours` runs on one instance
# kept for the whole benchmark, `ours_fresh` on a new one each time.
KEPT_DAGSTER_HOME = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
atexit.register(shutil.rmtree, KEPT_DAGSTER_HOME, ignore_errors=True)


def prepare_kept_instance() -> None:
    """Create the kept instance's databases before any timed run, as a deployment has them."""
    import dagster as dg  # only ours needs it

    with dg.DagsterInstance.from_config(str(KEPT_DAGSTER_HOME)):
        pass


def dagster_home(key: str, work: Path) -> Path:
    """The instance folder a run of contender `key` uses."""
    return work / "dagster_home" if key == "ours_fresh" else KEPT_DAGSTER_HOME


def extraction_metadata(home: Path, table: str = "accounts") -> dict[str, float]:
    """Records/s and seconds of the fetch-and-write phase, from the latest materialization."""
    import dagster as dg  # only ours needs it, and only after the timed run

    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["portabilling", table]))
    assert event is not None and event.asset_materialization is not None
    values: dict[str, Any] = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    return {"records_per_s": float(values["records_per_s"]), "seconds": float(values["duration_s"])}


def _ours_env(key: str) -> Callable[[str, Path], dict[str, str]]:
    def env(url: str, work: Path) -> dict[str, str]:
        home = dagster_home(key, work)
        home.mkdir(exist_ok=True)
        return {
            **os.environ,
            "PORTABILLING_URL": url,
            "PORTABILLING_LOGIN": LOGIN,
            "PORTABILLING_PASSWORD": PASSWORD,
            "PORTABILLING_DATA_DIR": str(work / "data"),
            "PORTABILLING_EVENTS_DB": str(work / "events.db"),
            "DAGSTER_HOME": str(home),
        }

    return env


def _ceiling(concurrency: int) -> Contender:
    return Contender(
        name=f"raw ceiling x{concurrency}",
        command=lambda url, work: [
            sys.executable,
            str(HERE / "ceiling.py"),
            url,
            LOGIN,
            PASSWORD,
            str(concurrency),
        ],
        rows=lambda work, stdout: int(json.loads(stdout.strip().splitlines()[-1])["rows"]),
    )


def _ours(key: str, name: str) -> Contender:
    return Contender(
        name=name,
        command=lambda url, work: [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "definitions",
            "--select",
            "portabilling/accounts",
        ],
        rows=lambda work, stdout: parquet_rows(work / "data" / "accounts"),
        env=_ours_env(key),
    )


SCRIPT = Contender(
    name="hand-written script",
    command=lambda url, work: [
        sys.executable,
        str(HERE / "handwritten.py"),
        url,
        LOGIN,
        PASSWORD,
        str(work / "accounts.parquet"),
    ],
    rows=lambda work, stdout: pq.ParquetFile(work / "accounts.parquet").metadata.num_rows,
)
DLT = Contender(
    name="dlt rest_api",
    command=lambda url, work: [
        sys.executable,
        str(HERE / "dlt_pipeline.py"),
        url,
        LOGIN,
        PASSWORD,
        str(work / "dlt_out"),
        str(work / "dlt_work"),
    ],
    rows=lambda work, stdout: parquet_rows(work / "dlt_out" / "portabilling" / "accounts"),
)
ALL = {
    "ours": _ours("ours", "ours (dagster asset materialize, kept instance)"),
    "ours_fresh": _ours("ours_fresh", "ours (dagster asset materialize, new instance)"),
    "script": SCRIPT,
    "dlt": DLT,
    "ceiling8": _ceiling(8),
    "ceiling16": _ceiling(16),
}
