"""Webhook benchmark: durable events/s and latency of `portabilling webhook`, from a load process.

Starts the real command as a subprocess (its own process, its own SQLite file in WAL mode with
synchronous=FULL), then drives it from this process (asyncio, keep-alive HTTP/1.1 connections, a
deliberately light client so it takes little of the 2 cores from the receiver):
1. saturation: `--concurrency` connections send `--events` events as fast as answers come back;
2. paced: `--rate` events/s for `--duration` s, latency measured from each request's scheduled
   send time (so a stall is not hidden by the sender waiting on it).
Every answer must be 200; the store must then hold every event. Finally times the store calls
the sensor and runs make, with `--backlog` events pending.

    python benchmarks/webhook_bench.py [--events 20000] [--concurrency 16] [--rate 1000]
"""

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from connector.events import Event, EventStore

USER, PASSWORD = "bench", "bench-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@dataclass
class Result:
    """Latencies (s) of one phase and its wall time."""

    name: str
    latencies: list[float]
    wall_s: float
    errors: int
    receiver_cpu_s: float = 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies)

        def ms(q: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        rate = len(ordered) / self.wall_s
        return (
            f"| {self.name} | {len(ordered)} | {self.errors} | {rate:,.0f} | "
            f"{1000 * statistics.fmean(ordered):.1f} | {ms(0.5):.1f} | {ms(0.95):.1f} | "
            f"{ms(0.99):.1f} | {1000 * ordered[-1]:.1f} | "
            f"{1000 * self.receiver_cpu_s / len(ordered):.3f} |"
        )


@contextmanager
def webhook(db_path: str) -> Iterator[tuple[str, int]]:
    """Run `portabilling webhook` on a free port; yield its base URL and process id."""
    env = {
        **os.environ,
        "PORTABILLING_WEBHOOK_USER": USER,
        "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD,
    }
    argv = [sys.executable, "-m", "connector.commands.cli", "webhook"]
    argv += ["--port", "0", "--db", db_path]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"(http://\S+)/events", process.stdout.readline())
        if not match:
            raise RuntimeError("the webhook did not start")
        yield match.group(1), process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


class Sender:
    """One keep-alive connection posting events with pre-formatted HTTP/1.1 (a light client)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> "Sender":
        address = urlsplit(url)
        return cls(*await asyncio.open_connection(address.hostname, address.port))

    async def send(self, i_event: int) -> bool:
        variables = {"i_event": i_event, "i_account": i_event % 5000 + 1}
        body = json.dumps({"event_type": "Subscriber/Updated", "variables": variables}).encode()
        head = (
            f"POST /events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Authorization: {AUTHORIZATION}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        response_head = await self._reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", response_head)
        await self._reader.readexactly(int(length.group(1)) if length else 0)
        return response_head.startswith(b"HTTP/1.1 200")

    def close(self) -> None:
        self._writer.close()


async def saturate(url: str, events: int, concurrency: int, first: int) -> Result:
    """Closed loop: each connection sends its next event as soon as the previous one is answered."""
    latencies: list[float] = []
    errors = 0
    ids = iter(range(first, first + events))

    async def worker() -> None:
        nonlocal errors
        sender = await Sender.open(url)
        for i_event in ids:
            started = time.perf_counter()
            errors += not await sender.send(i_event)
            latencies.append(time.perf_counter() - started)
        sender.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return Result(f"saturation, {concurrency} connections", latencies, wall, errors)


async def paced(url: str, rate: float, duration_s: float, concurrency: int, first: int) -> Result:
    """Open loop at `rate`/s, latency counted from each event's scheduled time."""
    latencies: list[float] = []
    errors = 0
    per_worker = int(rate * duration_s / concurrency)
    interval = concurrency / rate
    start = time.perf_counter() + 0.2

    async def worker(offset: int) -> None:
        nonlocal errors
        sender = await Sender.open(url)
        for n in range(per_worker):
            scheduled = start + (n + offset / concurrency) * interval
            # pacing the load generator, not waiting for the system under test
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            errors += not await sender.send(first + n * concurrency + offset)
            latencies.append(time.perf_counter() - scheduled)
        sender.close()

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    wall = time.perf_counter() - start
    return Result(f"paced {rate:,.0f}/s, {concurrency} connections", latencies, wall, errors)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(url: str, pid: int, args: argparse.Namespace) -> list[Result]:
    """The saturation phase, then the paced phase, on the same receiver."""
    phases = [
        saturate(url, args.events, args.concurrency, first=1),
        paced(url, args.rate, args.duration, args.concurrency, first=10_000_000),
    ]
    results = []
    for phase in phases:
        before = cpu_seconds(pid)
        result = await phase
        result.receiver_cpu_s = cpu_seconds(pid) - before
        results.append(result)
    return results


def time_store_reads(db_path: str, backlog: int) -> list[tuple[str, float]]:
    """Seconds each sensor/run store call takes with `backlog` pending events (5,000 accounts)."""
    at = datetime.now(UTC)
    with EventStore(db_path) as store:
        store.add_many(
            Event(i, "Subscriber/Updated", {"i_event": i}, "accounts", i % 5000 + 1, at)
            for i in range(1, backlog + 1)
        )
        calls: list[tuple[str, Callable[[], object]]] = [
            ("pending_summary()", store.pending_summary),
            ("pending_entities()", store.pending_entities),
            ("claim_pending(run_id)", lambda: store.claim_pending("bench-run")),
            ("events(all i_events)", lambda: store.events(range(1, backlog + 1))),
            ("complete(run_id)", lambda: store.complete("bench-run")),
        ]
        timings = []
        for name, call in calls:
            started = time.perf_counter()
            call()
            timings.append((name, time.perf_counter() - started))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--backlog", type=int, default=100_000, help="pending events for store reads"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "_events.sqlite3")
        with webhook(db_path) as (url, pid):
            results = asyncio.run(drive(url, pid, args))
        with EventStore(db_path) as store:
            stored = sum(store.counts().values())
        timings = time_store_reads(os.path.join(tmp, "_backlog.sqlite3"), args.backlog)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average before/during: {load}\n"
    )
    print(
        "| phase | events | non-200 | events/s | mean ms | p50 ms | p95 ms | p99 ms | max ms "
        "| receiver CPU ms/event |"
    )
    print("| --- " * 10 + "|")
    for result in results:
        print(result.row())
    sent = sum(len(result.latencies) for result in results)
    print(f"\nstored after shutdown: {stored} of {sent} sent\n")
    print(f"| store call, {args.backlog:,} pending events | seconds |\n| --- | --- |")
    for name, seconds in timings:
        print(f"| `{name}` | {seconds:.3f} |")
    return 0 if stored == sent and not any(result.errors for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
