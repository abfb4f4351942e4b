"""One command: ours, a hand-written script, dlt and the raw ceiling, interleaved on one emulator.

python -m benchmarks.compare --sizes 10000,100000,1000000 --latencies 0,20 --rounds 3
python -m benchmarks.compare --quick        # 10k accounts, 20 ms, one round (~2 minutes)
python -m benchmarks.compare --pin ...      # the emulator on a CPU of its own, as a server is
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.compare import measure, report
from benchmarks.compare.contenders import (
    ALL,
    OUT,
    REPO,
    Contender,
    dagster_home,
    extraction_metadata,
    prepare_kept_instance,
)
from benchmarks.compare.emulator import EmulatorProcess

TIMEOUT_S = 1800.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    add = parser.add_argument
    add("--sizes", default="10000,100000,1000000", help="accounts, comma separated")
    add("--latencies", default="0,20", help="emulator latency per request, ms, comma separated")
    add("--rounds", type=int, default=3, help="rounds per size below 1M (default %(default)s)")
    add("--rounds-1m", type=int, default=1, help="rounds at 1M accounts and above")
    add("--contenders", default=",".join(ALL), help="subset of: " + ", ".join(ALL))
    add("--dlt-max-size", type=int, default=1_000_000, help="skip dlt above this many accounts")
    add("--quick", action="store_true", help="10k accounts, 20 ms, 1 round")
    add("--out", type=Path, default=OUT / "compare.json", help="raw results (JSON)")
    add("--markdown", type=Path, default=OUT / "compare.md", help="the report (Markdown)")
    add("--render-only", action="store_true", help="re-render --markdown from --out")
    add("--append", action="store_true", help="add to the results already in --out")
    add(
        "--pin",
        action="store_true",
        help="run the emulator on the last CPU and every contender on the others, so the "
        "server never competes with the client for a core (a real server is another machine)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.latencies, args.rounds = "10000", "20", 1
    return args


class Placement(NamedTuple):
    """Which CPUs the emulator and the contenders may use (None: anywhere)."""

    server: set[int] | None = None
    client: set[int] | None = None

    @property
    def pinned(self) -> bool:
        return self.server is not None


def placement(pin: bool) -> Placement:
    """`--pin`: the last CPU for the emulator, the others for the contenders."""
    if not pin:
        return Placement()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs: one for the emulator, one for contenders")
    return Placement(server={cpus[-1]}, client=set(cpus[:-1]))


def run_one(
    contender: Contender,
    key: str,
    emulator: EmulatorProcess,
    size: int,
    latency: float,
    cpus: Placement,
) -> dict[str, Any]:
    """One timed run of one contender in a fresh working folder."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{key}-") as folder:
        work = Path(folder)
        emulator.reset()
        result = measure.run(
            contender.command(emulator.url, work),
            contender.env(emulator.url, work),
            REPO,
            TIMEOUT_S,
            cpus.client,
        )
        counters = emulator.counters()
        row: dict[str, Any] = {
            "contender": key,
            "size": size,
            "latency_ms": latency,
            "wall_s": result.wall_s,
            "peak_rss": result.peak_rss,
            "requests": counters["total_requests"],
            "max_in_flight": counters["max_in_flight"],
            "rows": contender.rows(work, result.stdout),
            "pinned": cpus.pinned,
        }
        if key.startswith("ours"):
            row["extraction"] = extraction_metadata(dagster_home(key, work))
        if key.startswith("ceiling"):
            row["fetch_s"] = json.loads(result.stdout.strip().splitlines()[-1])["fetch_s"]
    if row["rows"] != size:
        raise RuntimeError(f"{key} landed {row['rows']} rows, expected {size}")
    return row


def planned(args: argparse.Namespace, size: int) -> tuple[int, list[str]]:
    """Rounds and contenders for one size."""
    rounds = args.rounds_1m if size >= 1_000_000 else args.rounds
    keys = [k for k in args.contenders.split(",") if k != "dlt" or size <= args.dlt_max_size]
    return rounds, keys


def main() -> None:
    """Run the matrix, save raw results after every run, render the Markdown report."""
    args = parse_args()
    results: list[dict[str, Any]] = (
        json.loads(args.out.read_text()) if args.render_only or args.append else []
    )
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    cpus = placement(args.pin)
    if not args.render_only:
        prepare_kept_instance()
    for size in [] if args.render_only else [int(s) for s in args.sizes.split(",")]:
        rounds, keys = planned(args, size)
        for latency in [float(x) for x in args.latencies.split(",")]:
            with EmulatorProcess(size, latency, REPO, cpus.server) as emulator:
                for number in range(rounds):
                    # Rotate the order each round: no contender always runs first or last.
                    order = keys[number % len(keys) :] + keys[: number % len(keys)]
                    for key in order:
                        row = run_one(ALL[key], key, emulator, size, latency, cpus)
                        row["round"] = number
                        results.append(row)
                        print(report.one_line(row), flush=True)
                        args.out.write_text(json.dumps(results, indent=1))
    args.markdown.write_text(report.markdown(results, started, command_line()))
    print(f"wrote {args.markdown} and {args.out}")


def command_line() -> str:
    import sys

    return "python -m benchmarks.compare " + " ".join(sys.argv[1:])


if __name__ == "__main__":
    main()
