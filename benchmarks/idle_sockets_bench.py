"""Idle-socket benchmark: latency of valid POSTs while 1,000 idle TCP connections are held open.

Starts the real `portabilling webhook` (default limits: 5 s read timeout, 1,000 connections) and
drives it from this process (asyncio). An attacker task holds `--idle` connections that send
nothing and reopens each one the receiver closes (cap eviction or read timeout). Meanwhile valid
events are posted at `--rate`/s, each on a new connection (the costly case: at the cap, every new
connection evicts one), latency counted from each event's scheduled send time. A baseline phase
without idle sockets runs first.

    PYTHONPATH=. python benchmarks/idle_sockets_bench.py [--idle 1000] [--events 500] [--rate 50]
"""

import argparse
import asyncio
import os
import platform
import resource
import sys
import tempfile
import time
from urllib.parse import urlsplit

from benchmarks.webhook_bench import Result, Sender, cpu_seconds, webhook


class IdleHolder:
    """Holds `count` connections that never send a byte, reopening each one the server closes."""

    def __init__(self, url: str, count: int) -> None:
        address = urlsplit(url)
        self._address = (address.hostname, address.port)
        self._count = count
        self._tasks: list[asyncio.Task[None]] = []
        self.open = 0
        self.closed_by_server = 0

    async def start(self) -> None:
        """Open every connection; return once all are established."""
        ready = [asyncio.get_running_loop().create_future() for _ in range(self._count)]
        self._tasks = [asyncio.create_task(self._hold(future)) for future in ready]
        await asyncio.gather(*ready)

    async def _hold(self, ready: "asyncio.Future[None]") -> None:
        while True:
            reader, writer = await asyncio.open_connection(*self._address)
            self.open += 1
            if not ready.done():
                ready.set_result(None)
            await reader.read()  # returns at EOF: the server closed it
            self.open -= 1
            self.closed_by_server += 1
            writer.close()

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


async def paced_new_connections(url: str, events: int, rate: float, first: int) -> Result:
    """`events` POSTs at `rate`/s, each on a new connection; latency from the scheduled time."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(n: int) -> None:
        nonlocal errors
        scheduled = start + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))  # pacing the load only
        sender = await Sender.open(url)
        errors += not await sender.send(first + n)
        latencies.append(time.perf_counter() - scheduled)
        sender.close()

    await asyncio.gather(*(one(n) for n in range(events)))
    return Result("", latencies, time.perf_counter() - start, errors)


async def drive(url: str, pid: int, args: argparse.Namespace) -> list[tuple[Result, int]]:
    """Baseline, then the same load with the idle connections held; (result, idle closed)."""
    before = cpu_seconds(pid)
    baseline = await paced_new_connections(url, args.events, args.rate, first=1)
    baseline.receiver_cpu_s = cpu_seconds(pid) - before
    holder = IdleHolder(url, args.idle)
    await holder.start()
    before = cpu_seconds(pid)
    loaded = await paced_new_connections(url, args.events, args.rate, first=1_000_000)
    loaded.receiver_cpu_s = cpu_seconds(pid) - before
    holder.stop()
    baseline.name = f"no idle sockets, {args.rate:,.0f}/s, a new connection each"
    loaded.name = f"{args.idle:,} idle sockets held, {args.rate:,.0f}/s, a new connection each"
    return [(baseline, 0), (loaded, holder.closed_by_server)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.idle)), hard))
    with tempfile.TemporaryDirectory() as tmp, webhook(os.path.join(tmp, "_e.db")) as (url, pid):
        phases = asyncio.run(drive(url, pid, args))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average after: {load}\n"
    )
    print(
        "| phase | events | non-200 | events/s | mean ms | p50 ms | p95 ms | p99 ms | max ms "
        "| receiver CPU ms/event | idle sockets closed by the receiver |"
    )
    print("| --- " * 11 + "|")
    for result, closed in phases:
        print(f"{result.row()} {closed:,} |")
    return 0 if not any(result.errors for result, _ in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
