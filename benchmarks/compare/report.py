"""Raw results → a Markdown report of one run's tables (by default benchmarks/out/compare.md)."""

import platform
import statistics
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import psutil

MB = 1024 * 1024
NAMES = {
    "ours": "ours: `dagster asset materialize` (kept instance)",
    "ours_fresh": "ours: `dagster asset materialize` (new instance)",
    "script": "hand-written requests + pandas",
    "dlt": "dlt `rest_api` → Parquet",
    "ceiling8": "raw ceiling, 8 concurrent",
    "ceiling16": "raw ceiling, 16 concurrent",
}
ORDER = list(NAMES)


def one_line(row: dict[str, Any]) -> str:
    """Progress line for one run."""
    extra = (
        f", extraction {row['extraction']['records_per_s']:,.0f} rec/s"
        if "extraction" in row
        else ""
    )
    return (
        f"{row['size']:>9,} acc {row['latency_ms']:>4.0f} ms  {row['contender']:<10} "
        f"{row['wall_s']:7.2f} s  {row['peak_rss'] / MB:6.0f} MB  {row['requests']:5} req{extra}"
    )


def machine() -> str:
    """One paragraph naming the machine and the versions measured."""
    with open("/proc/cpuinfo") as cpuinfo:
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    cpu = models[0] if models else platform.processor()
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("dagster", "dlt", "pandas", "pyarrow", "requests")
    )
    return (
        f"{cpu}, {psutil.cpu_count()} logical cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"{platform.platform()}, Python {platform.python_version()}; {versions}."
    )


Group = tuple[int, float, bool]  # accounts, latency, pinned


def _group(results: Iterable[dict[str, Any]]) -> dict[Group, dict[str, list[dict[str, Any]]]]:
    groups: dict[Group, dict[str, list[dict[str, Any]]]] = {}
    for row in results:
        group = (row["size"], row["latency_ms"], bool(row.get("pinned")))
        groups.setdefault(group, {}).setdefault(row["contender"], []).append(row)
    return groups


def _median(rows: list[dict[str, Any]], field: str) -> float:
    return statistics.median(float(row[field]) for row in rows)


def _table(size: int, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    ours = _median(runs["ours"], "wall_s") if "ours" in runs else None
    lines = [
        "| contender | wall median (min-max) s | records/s | peak RSS MB (max) | requests "
        "| ours faster by |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in [k for k in ORDER if k in runs]:
        rows = runs[key]
        walls = [row["wall_s"] for row in rows]
        wall = statistics.median(walls)
        ratio = f"{wall / ours:.2f}x" if ours else "-"
        peak = max(row["peak_rss"] for row in rows) / MB
        lines.append(
            f"| {NAMES[key]} | {wall:.2f} ({min(walls):.2f}-{max(walls):.2f}) "
            f"| {size / wall:,.0f} | {peak:,.0f} | {rows[0]['requests']:,} | {ratio} |"
        )
    return lines


def _phases(size: int, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Fetch-phase rates: ours from the run's metadata, the ceilings timed inside the process.

    Besides the ratio of the medians, each round's own ratio (ours and the ceiling run minutes
    apart at most) is given: the machine's speed drifts more between rounds than within one.
    """
    lines = []
    ours = runs.get("ours", [])
    rates = [row["extraction"]["records_per_s"] for row in ours]
    if rates:
        lines.append(
            f"ours, fetch-and-write phase (run metadata): {statistics.median(rates):,.0f} records/s"
        )
    for key in ("ceiling8", "ceiling16"):
        if key in runs:
            rate = statistics.median(size / row["fetch_s"] for row in runs[key])
            share = ""
            if rates:
                share = f" (ours' phase = {statistics.median(rates) / rate:.0%} of it"
                share += _per_round(ours, runs[key]) + ")"
            lines.append(f"{NAMES[key]}, fetch phase: {rate:,.0f} records/s{share}")
    return [f"- {line}" for line in lines]


def _per_round(ours: list[dict[str, Any]], ceiling: list[dict[str, Any]]) -> str:
    """'; per round: median (min-max)' of ceiling fetch seconds / ours' phase seconds."""
    fetch = {row["round"]: row["fetch_s"] for row in ceiling}
    shares = [
        fetch[row["round"]] / row["extraction"]["seconds"] for row in ours if row["round"] in fetch
    ]
    if not shares:
        return ""
    return f"; per round {statistics.median(shares):.0%} ({min(shares):.0%}-{max(shares):.0%})"


def markdown(results: list[dict[str, Any]], started: str, command: str) -> str:
    """The whole report."""
    out = [
        "# Side-by-side benchmarks: ours vs a hand-written script vs dlt vs the raw ceiling",
        "",
        f"Reproduce (from the repository root, with `pip install -e '.[dev,bench]'`): `{command}`",
        "",
        f"Run started {started} on: {machine()}",
        "",
        "Each contender runs as its own process against the bundled emulator (its own process), "
        "interleaved round by round on the same emulator. Wall time is the whole command, "
        "interpreter start-up included. Peak RSS is the sum over the contender's process tree, "
        "polled every 20 ms. Requests are counted by the emulator (logins included). "
        "\"ours faster by\" = contender's median wall / ours' median wall.",
    ]
    for (size, latency, pinned), runs in sorted(_group(results).items()):
        rounds = max(len(rows) for rows in runs.values())
        where = ", emulator pinned to its own CPU" if pinned else ""
        out += ["", f"## {size:,} accounts, {latency:g} ms latency{where} ({rounds} round(s))", ""]
        out += [*_table(size, runs), "", *_phases(size, runs)]
    return "\n".join(out) + "\n"
