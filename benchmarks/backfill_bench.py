"""30-day xDR backfill wall time with 1, 2 and 4 partitions in parallel (emulator, 20 ms latency).

The emulator runs in its own process (`portabilling emulator`); each partition is one Dagster run
of the project's xDR job, configured from the environment like production, and a pool of N spawned
worker processes runs N partitions at a time. Results go to benchmarks/out/backfill.md.

    python benchmarks/backfill_bench.py [--parallel 1 2 4] [--days 30] [--max-in-flight 16]
"""

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "out" / "backfill.md"
START = date(2024, 1, 1)


def materialize_day(day: str) -> int:
    """One xDR partition as its own run (in a pool worker); returns the rows written."""
    from connector.dagster_defs.project import XDRS_JOB, build_defs
    from connector.store.storage import TableStore

    result = build_defs().resolve_job_def(XDRS_JOB).execute_in_process(partition_key=day)
    assert result.success, day
    table = TableStore(os.environ["PORTABILLING_DATA_DIR"]).read("xdrs", day)
    return 0 if table is None else table.num_rows


def start_emulator(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process; returns it and its base URL."""
    command = [
        *(sys.executable, "-m", "connector.commands.cli", "emulator", "--port", "0"),
        *("--customers", str(args.customers), "--accounts", str(args.accounts)),
        *("--xdrs-per-account", str(args.xdrs_per_account), "--xdr-days", str(args.days)),
        *("--xdr-start", START.isoformat(), "--latency-ms", str(args.latency_ms)),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout is not None
    found = re.search(r"https?://\S+", process.stdout.readline())
    if found is None:
        process.kill()
        raise SystemExit("the emulator did not print its URL")
    return process, found.group()


def backfill(days: list[str], parallel: int) -> tuple[float, int]:
    """Wall seconds and rows of one backfill with `parallel` partitions at a time."""
    started = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=spawn) as pool:
        rows = sum(pool.map(materialize_day, days))
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--xdrs-per-account", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--max-in-flight", type=int, default=16)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    days = [(START + timedelta(days=i)).isoformat() for i in range(args.days)]
    emulator, url = start_emulator(args)
    lines = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            os.environ.update(
                PORTABILLING_URL=url,
                PORTABILLING_LOGIN="demo",
                PORTABILLING_PASSWORD="exAmple",
                PORTABILLING_PAGE_SIZE=str(args.page_size),
                PORTABILLING_MAX_CONCURRENCY=str(args.max_concurrency),
                PORTABILLING_MAX_IN_FLIGHT=str(args.max_in_flight),
                PORTABILLING_STATE_DIR=f"{scratch}/state",
                PORTABILLING_EVENTS_DB=f"{scratch}/events.db",
            )
            for parallel in args.parallel:
                os.environ["PORTABILLING_DATA_DIR"] = f"{scratch}/data-{parallel}"
                load = os.getloadavg()[0]
                seconds, rows = backfill(days, parallel)
                lines.append(
                    f"| {parallel} | {seconds:.1f} | {seconds / len(days):.2f} | {rows:,} | "
                    f"{rows / seconds:,.0f} | {load:.1f} |"
                )
                print(lines[-1], flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    write_results(args, lines)


def write_results(args: argparse.Namespace, lines: list[str]) -> None:
    header = [
        "# 30-day xDR backfill: wall time by partitions in parallel",
        "",
        f"`python benchmarks/backfill_bench.py` on {os.cpu_count()} cores: emulator in its own "
        f"process with {args.latency_ms:g} ms latency per request, {args.customers} customers, "
        f"{args.accounts:,} accounts, {args.xdrs_per_account} xDRs per account over "
        f"{args.days} days; page size {args.page_size}, {args.max_concurrency} requests in flight "
        f"per step, PORTABILLING_MAX_IN_FLIGHT={args.max_in_flight}. Each partition is one "
        "Dagster run (`execute_in_process`) in a pool of spawned worker processes; wall time "
        "includes starting the workers.",
        "",
        "| parallel partitions | wall s | s per partition | xDRs | xDRs/s | load avg at start |",
        "|---|---|---|---|---|---|",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join([*header, *lines, ""]))


if __name__ == "__main__":
    main()
