"""A large operator's xDR day: `portabilling/xdrs` through Dagster beside a raw client.

PYTHONPATH=. python benchmarks/xdr_volume.py                 # 10,000 customers, 1,000,000 xDRs
PYTHONPATH=. python benchmarks/xdr_volume.py --customers 1000 --accounts 2000 --xdrs 50000
PYTHONPATH=. python benchmarks/xdr_volume.py --table vendor_xdrs  # the same xDRs, per vendor

The emulator (`--xdrs-per-day`: 1% of the customers hold half the day's xDRs, 9% the rest, the
others none; each xDR also carried by one of 5 vendors) runs in its own process with per-request
latency. Each round runs, in turn, `dagster asset materialize --select portabilling/TABLE
--partition DAY` (peak RSS of the whole process tree) and `benchmarks/xdr_raw.py` (the same calls,
page size and concurrency). Reports wall time, the extraction phase (the asset's `duration_s`: the
per-parent xDR calls, converted and written, after the parents are listed) against the raw
client's xDR calls alone, peak memory, the requests served and, for `xdrs`, the requests each
customer without xDRs cost.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.compare import measure
from benchmarks.compare.contenders import (
    ALL,
    KEPT_DAGSTER_HOME,
    LOGIN,
    PASSWORD,
    REPO,
    extraction_metadata,
    parquet_rows,
    prepare_kept_instance,
)
from benchmarks.compare.emulator import EmulatorProcess
from benchmarks.xdr_raw import Calls

DAY = date(2024, 1, 1)  # the emulator's first day
TIMEOUT_S = 600.0
MB = 1024 * 1024
TABLES = {
    "xdrs": Calls(
        "Customer/get_customer_list", "customer_list", "i_customer", "Customer/get_customer_xdrs"
    ),
    "vendor_xdrs": Calls(
        "Vendor/get_vendor_list", "vendor_list", "i_vendor", "Vendor/get_xdr_list"
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/xdr_volume.py", description=__doc__)
    add = parser.add_argument
    add("--table", choices=sorted(TABLES), default="xdrs", help="the asset, one partition")
    add("--customers", type=int, default=10_000)
    add("--accounts", type=int, default=20_000, help="accounts over those customers")
    add("--xdrs", type=int, default=1_000_000, help="xDRs billed in the day")
    add("--latency-ms", type=float, default=20.0, help="emulator latency per request")
    add("--concurrency", type=int, default=8, help="requests in flight, both contenders")
    add("--page-size", type=int, default=1000, help="rows per page, both contenders")
    add("--rounds", type=int, default=1)
    add("--out", type=Path, help="raw results (JSON, in an ignored folder)")
    args = parser.parse_args()
    args.out = args.out or REPO / "benchmarks" / "out" / f"xdr_volume_{args.table}.json"
    return args


def ours(url: str, work: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """`dagster asset materialize` of the day's partition, on the kept Dagster instance."""
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize"]
    command += ["-m", "definitions", "--select", f"portabilling/{args.table}"]
    command += ["--partition", str(DAY)]
    env = ALL["ours"].env(url, work)
    env["PORTABILLING_PAGE_SIZE"] = str(args.page_size)
    env["PORTABILLING_MAX_CONCURRENCY"] = str(args.concurrency)
    return command, env


def raw(url: str, work: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The raw client, same calls, page size and concurrency."""
    command = [sys.executable, str(REPO / "benchmarks" / "xdr_raw.py"), url, LOGIN, PASSWORD]
    command += [str(args.concurrency), str(args.page_size), str(DAY), *TABLES[args.table]]
    return command, {**ALL["ceiling8"].env(url, work), "PYTHONPATH": str(REPO)}


def run_one(
    name: str, emulator: EmulatorProcess, args: argparse.Namespace, empty: set[int]
) -> dict[str, Any]:
    """One timed run in a fresh folder, with what the emulator served for it."""
    with tempfile.TemporaryDirectory(prefix=f"xdr-volume-{name}-") as folder:
        work = Path(folder)
        emulator.reset()
        command, env = (ours if name == "ours" else raw)(emulator.url, work, args)
        result = measure.run(command, env, REPO, TIMEOUT_S)
        if name == "ours":
            rows = parquet_rows(work / "data" / args.table)
            phase_s = extraction_metadata(KEPT_DAGSTER_HOME, args.table)["seconds"]
        else:
            answer = json.loads(result.stdout.strip().splitlines()[-1])
            rows, phase_s = int(answer["rows"]), float(answer["xdrs_s"])
    served, calls = emulator.counters(), emulator.xdr_calls()
    return {
        "contender": name,
        "wall_s": round(result.wall_s, 2),
        "phase_s": round(phase_s, 2),
        "peak_mb": round(result.peak_rss / MB),
        "rows": rows,
        "requests": served["total_requests"],
        "xdr_requests": served["requests"].get(TABLES[args.table].xdr_method, 0),
        "max_in_flight": served["max_in_flight"],
        "empty_customers": len(empty),
        "empty_requests": sum(calls.get(c, 0) for c in empty),
        "empty_not_one": sum(1 for c in empty if calls.get(c, 0) != 1),
    }


def summary(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Medians per contender, and the extraction phase as a share of the raw client's speed."""
    lines = [
        f"{args.table}: {args.customers:,} customers, {args.accounts:,} accounts, "
        f"{args.xdrs:,} xDRs on {DAY}, "
        f"{args.latency_ms:g} ms, concurrency {args.concurrency}, pages of {args.page_size}, "
        f"{args.rounds} round(s)"
    ]
    medians = {}
    for name in ("ours", "raw"):
        mine = [run for run in runs if run["contender"] == name]
        medians[name] = {
            k: statistics.median(run[k] for run in mine) for k in mine[0] if k != "contender"
        }
        m = medians[name]
        empty = (
            f"  empty customers {m['empty_customers']:,.0f}: {m['empty_requests']:,.0f} requests, "
            f"{m['empty_not_one']:.0f} not exactly one"
            if args.table == "xdrs"
            else ""
        )
        lines.append(
            f"  {name:<4} wall {m['wall_s']:7.2f} s  phase {m['phase_s']:7.2f} s  "
            f"peak {m['peak_mb']:5.0f} MB  rows {m['rows']:,.0f}  requests {m['requests']:,.0f} "
            f"(xDR {m['xdr_requests']:,.0f}){empty}"
        )
    ratio = medians["raw"]["phase_s"] / medians["ours"]["phase_s"]
    lines.append(f"  extraction phase at {ratio:.0%} of the raw client's speed")
    return "\n".join(lines)


def main() -> None:
    """Run the rounds, alternating which contender goes first; print and save the results."""
    args = parse_args()
    prepare_kept_instance()
    config = {"customers": args.customers, "xdrs_per_day": args.xdrs, "xdr_days": 1}
    runs: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with EmulatorProcess(args.accounts, args.latency_ms, REPO, config=config) as emulator:
        empty: set[int] = set()
        if args.table == "xdrs":
            empty = set(range(1, args.customers + 1)) - emulator.xdr_holders()
        for number in range(args.rounds):
            for name in ("ours", "raw") if number % 2 == 0 else ("raw", "ours"):
                runs.append(run_one(name, emulator, args, empty))
                print(json.dumps(runs[-1]), flush=True)
    text = summary(runs, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"started": started, "args": vars(args) | {"out": str(args.out)}, "runs": runs},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
