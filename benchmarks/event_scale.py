"""Event updates at scale (issue 19): one batch of events applied to an operator-sized store.

nice -n 10 env PYTHONPATH=. python benchmarks/event_scale.py   # 10M accounts, 30 days x 860k
PYTHONPATH=. python benchmarks/event_scale.py --accounts 200000 --event-days 2 \
    --events-per-day 50000 --baseline-accounts 200000 --baseline-event-days 2   # a smoke run

Setup, once per size and store code (cached under `benchmarks/out/event_scale/<accounts>/`): the
accounts table, written through the store's own `writer` from the emulator's record factory
(`RecordConverter`), and the stored events (`--event-days` x `--events-per-day` rows, one account
each): appended day by day then compacted (`append`, `maintain`) where the store has them, else
one events table through `writer`. Each round runs on a hard-linked copy of that data.

Each round: `--batch` random accounts change in the emulator (in this process, `--latency-ms` a
request); a fresh child process stores their ESPF events in a fresh event store, claims them and
calls `apply_batch` as the events asset does. Per round: apply_batch's wall time, the child's peak
RSS (`VmHWM`), and the bytes of the files that appeared or changed in the data folder (walked
before and after, here). The same is run with the code of `--baseline-ref` (unpacked with `git
archive`) and this tree's at `--baseline-accounts` x `--baseline-event-days`, like for like.
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.world import FIRST_ACCOUNT

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "event_scale"
CHILD = REPO / "benchmarks" / "event_scale_child.py"
FIRST_DAY = date(2024, 1, 1)
SEED = 7  # the emulator's data: the setup's records and the served ones must match
ROUND_TIMEOUT_S = 3600.0
MB = 1024 * 1024
TARGETS = "targets at 10M accounts + 30 days x 860k events: p50 < 3 s, peak < 400 MB, bytes < 2%"


@dataclass(frozen=True)
class Variant:
    """One code tree measured at one size."""

    code: str  # what the table calls it: this tree (its HEAD) or the baseline commit
    tree: str
    accounts: int
    customers: int
    event_days: int
    events_per_day: int
    table_format: str

    @property
    def events(self) -> int:
        return self.event_days * self.events_per_day


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/event_scale.py", description=__doc__)
    add = parser.add_argument
    add("--accounts", type=int, default=10_000_000)
    add("--customers", type=int, help="owners of those accounts (default: accounts / 100)")
    add("--event-days", type=int, default=30, help="days of events already stored")
    add("--events-per-day", type=int, default=860_000)
    add("--batch", type=int, default=100, help="events (distinct accounts) per round")
    add("--rounds", type=int, default=10)
    add("--concurrency", type=int, default=8, help="re-reads in flight, as the resource's")
    add("--latency-ms", type=float, default=20.0, help="emulator latency per request")
    add("--table-format", default="parquet", help="passed to open_tables (parquet, delta)")
    add("--baseline-ref", default="2676b20", help="today's main to compare with; 'none' skips")
    add("--baseline-accounts", type=int, default=1_000_000)
    add("--baseline-event-days", type=int, default=3)
    add("--seed", type=int, default=7, help="which accounts each round changes")
    add("--out", type=Path, default=REPO / "benchmarks" / "out" / "event_scale.json")
    return parser.parse_args()


def variants(args: argparse.Namespace) -> list[Variant]:
    """This tree at the baseline's size and the baseline beside it, then this tree at full size."""

    def at(code: str, tree: Path, accounts: int, days: int, table_format: str) -> Variant:
        customers = args.customers or max(1, accounts // 100)
        per_day = args.events_per_day
        return Variant(code, str(tree), accounts, customers, days, per_day, table_format)

    here = f"this tree ({git('rev-parse', '--short', 'HEAD')})"
    full = at(here, REPO, args.accounts, args.event_days, args.table_format)
    if args.baseline_ref == "none":
        return [full]
    size = (args.baseline_accounts, args.baseline_event_days)
    ours = at(here, REPO, *size, args.table_format)
    # Today's main knows the plain layout only.
    theirs = at(args.baseline_ref, baseline_tree(args.baseline_ref), *size, "parquet")
    return [ours, theirs] + ([full] if full != ours else [])


def baseline_tree(ref: str) -> Path:
    """The commit's files, unpacked once under benchmarks/out with `git archive`."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tree = OUT / "src" / commit
    if not (tree / ".complete").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", commit], cwd=REPO, stdout=subprocess.PIPE)
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(tree, filter="data")
        if archive.wait() != 0:
            raise RuntimeError(f"git archive {commit} failed")
        (tree / ".complete").touch()
    return tree


def git(*command: str) -> str:
    return subprocess.run(
        ["git", *command], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()


def prepared(variant: Variant) -> tuple[Path, dict[str, Any]]:
    """The variant's cached tables (set up now if missing) and what the setup reported."""
    name = f"{variant.table_format}-{variant.event_days}x{variant.events_per_day}-"
    folder = OUT / str(variant.accounts) / (name + layout_digest(Path(variant.tree)))
    report = folder / "setup.json"
    if report.exists():
        return folder / "data", json.loads(report.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"setting up {folder} ...", flush=True)
    job = {
        "root": str(folder / "data"),
        "table_format": variant.table_format,
        "accounts": variant.accounts,
        "customers": variant.customers,
        "seed": SEED,
        "first_day": FIRST_DAY.isoformat(),
        "days": variant.event_days,
        "per_day": variant.events_per_day,
    }
    setup = child(variant, "setup", job, timeout_s=None)
    report.write_text(json.dumps(setup, indent=1))
    return folder / "data", setup


def layout_digest(tree: Path) -> str:
    """A digest of the store code and the setup: a cache is reused only by code that wrote it."""
    digest = hashlib.sha256()
    for path in [*sorted((tree / "connector" / "store").rglob("*.py")), CHILD]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def working_copy(data: Path) -> Path:
    """A fresh hard-linked copy of the cached tables: writers publish new files, never edit."""
    copy = data.parent / "run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data, copy, copy_function=os.link)
    return copy


def child(
    variant: Variant, command: str, job: dict[str, Any], timeout_s: float | None
) -> dict[str, Any]:
    """Run one child against the variant's code; its JSON answer."""
    env = {**os.environ, "PYTHONPATH": variant.tree}
    done = subprocess.run(
        [sys.executable, str(CHILD), command, json.dumps(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command} child failed:\n{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(answer["connector"]) != Path(variant.tree) / "connector":
        raise RuntimeError(f"the child imported {answer['connector']}, not {variant.tree}")
    return answer


def measure(variant: Variant, args: argparse.Namespace) -> dict[str, Any]:
    """Set up (or reuse) the variant's tables and run its rounds on a fresh copy."""
    data, setup = prepared(variant)
    root = working_copy(data)
    config = EmulatorConfig(
        accounts=variant.accounts,
        customers=variant.customers,
        seed=SEED,
        latency_s=args.latency_ms / 1000,
    )
    picks = random.Random(args.seed)  # the same accounts for every variant of a size
    rounds = []
    with Emulator(config) as emulator:
        for number in range(args.rounds):
            keys = picks.sample(range(FIRST_ACCOUNT, FIRST_ACCOUNT + variant.accounts), args.batch)
            rounds.append(one_round(emulator, variant, root, number, keys, args))
            shown = {k: v for k, v in rounds[-1].items() if k != "connector"}
            print(f"  {variant.code} round {number + 1}: {shown}", flush=True)
    return {"variant": asdict(variant), "setup": setup, "rounds": rounds}


def one_round(
    emulator: Emulator,
    variant: Variant,
    root: Path,
    number: int,
    keys: list[int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Change the accounts, apply their events in a child, and count the bytes it wrote."""
    seen = len(emulator.events)
    for key in keys:
        emulator.update_account(key, blocked="Y" if number % 2 == 0 else "N")
    bodies = emulator.events[seen:]
    for offset, body in enumerate(bodies, start=variant.events + number * args.batch + 1):
        body["variables"]["i_event"] = offset  # after the stored events' ids
    last_day = FIRST_DAY + timedelta(days=variant.event_days - 1)
    job = {
        "root": str(root),
        "table_format": variant.table_format,
        "bodies": bodies,
        # On the last stored day: appends land in a full partition.
        "received_at": (
            datetime.combine(last_day, time(12), UTC) + timedelta(seconds=number)
        ).isoformat(),
        "url": emulator.url,
        "login": emulator.login,
        "password": emulator.password,
        "concurrency": args.concurrency,
    }
    before = files(root)
    result = child(variant, "round", job, ROUND_TIMEOUT_S)
    result["bytes_written"] = written_bytes(before, files(root))
    if result["events_applied"] != len(bodies) or result["dead"]:
        raise RuntimeError(f"round {number + 1} did not apply every event: {result}")
    return result


def files(root: Path) -> dict[str, tuple[int, int, int]]:
    """Each file under `root`: (inode, size, modification time in ns)."""
    found = {}
    for path, _, names in os.walk(root):
        for name in names:
            stat = os.stat(os.path.join(path, name))
            found[os.path.join(path, name)] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return found


def written_bytes(before: dict[str, tuple[int, int, int]], after: dict[str, Any]) -> int:
    """Sizes of the files that are new or changed (a replaced file has a new inode)."""
    return sum(state[1] for path, state in after.items() if before.get(path) != state)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary_row(result: dict[str, Any]) -> dict[str, Any]:
    """A variant's figures over its rounds."""
    variant, setup, rounds = result["variant"], result["setup"], result["rounds"]
    seconds = [r["apply_s"] for r in rounds]
    written = statistics.median(r["bytes_written"] for r in rounds)
    return {
        "code": variant["code"],
        "format": variant["table_format"],
        "accounts": variant["accounts"],
        "events": variant["event_days"] * variant["events_per_day"],
        "p50_s": statistics.median(seconds),
        "p90_s": percentile(seconds, 0.9),
        "peak_mb": max(r["peak_rss"] for r in rounds) / MB,
        "rss_before_mb": statistics.median(r["rss_before_apply"] for r in rounds) / MB,
        "written_mb": written / MB,
        "written_pct": 100 * written / setup["accounts_bytes"],
        "accounts_mb": setup["accounts_bytes"] / MB,
        "events_mb": setup["events_bytes"] / MB,
        "accounts_updated": statistics.median(r["updated"].get("accounts", 0) for r in rounds),
    }


def markdown(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The summary table, and the like-for-like ratio at the baseline's size."""
    rows = [summary_row(result) for result in results]
    lines = [
        f"{args.rounds} rounds of {args.batch} events, {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}; {TARGETS}",
        "",
        "| code | format | accounts | events stored | apply_batch p50 / p90 s | peak RSS MB "
        "(before apply) | bytes written, median | % of accounts table | accounts / events "
        "tables MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['code']} | {r['format']} | {r['accounts']:,} | {r['events']:,} | "
            f"{r['p50_s']:.2f} / {r['p90_s']:.2f} | {r['peak_mb']:.0f} ({r['rss_before_mb']:.0f}) "
            f"| {r['written_mb']:.1f} MB | {r['written_pct']:.2f}% | "
            f"{r['accounts_mb']:.0f} / {r['events_mb']:.0f} |"
        )
    if len(rows) >= 2 and rows[0]["accounts"] == rows[1]["accounts"]:
        ours, theirs = rows[0], rows[1]
        lines += [
            "",
            f"At {ours['accounts']:,} accounts, {theirs['code']} against this tree: "
            f"{theirs['p50_s'] / ours['p50_s']:.1f}x the time, "
            f"{theirs['written_mb'] / max(ours['written_mb'], 1e-9):.1f}x the bytes, "
            f"{theirs['peak_mb'] / ours['peak_mb']:.2f}x the peak.",
        ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    results = []
    for variant in variants(args):
        results.append(measure(variant, args))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": results}, indent=1)
        )
    table = markdown(results, args)
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
