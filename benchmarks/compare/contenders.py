"""The contenders: how each is started, and how many rows it landed."""

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
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


def _ours_env(url: str, work: Path) -> dict[str, str]:
    (work / "dagster_home").mkdir(exist_ok=True)
    return {
        **os.environ,
        "PORTABILLING_URL": url,
        "PORTABILLING_LOGIN": LOGIN,
        "PORTABILLING_PASSWORD": PASSWORD,
        "PORTABILLING_DATA_DIR": str(work / "data"),
        "PORTABILLING_EVENTS_DB": str(work / "events.db"),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }


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


OURS = Contender(
    name="ours (dagster asset materialize)",
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
    env=_ours_env,
)
# The same command with the in-process executor: what `executor=dg.in_process_executor` in the
# project's Definitions would give (one process instead of a step subprocess re-importing all).
OURS_IN_PROCESS = Contender(
    name="ours, in-process executor",
    command=lambda url, work: [
        *OURS.command(url, work),
        "--config-json",
        json.dumps({"execution": {"config": {"in_process": {}}}}),
    ],
    rows=OURS.rows,
    env=_ours_env,
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
    "ours": OURS,
    "ours_inproc": OURS_IN_PROCESS,
    "script": SCRIPT,
    "dlt": DLT,
    "ceiling8": _ceiling(8),
    "ceiling16": _ceiling(16),
}
