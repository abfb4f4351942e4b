"""Webhook benchmark: durable events/s and latency of `portabilling webhook`, from a load process.

Starts the real command as a subprocess (its own process, its own SQLite file in WAL mode with
synchronous=FULL), then drives it from this process with keep-alive HTTP connections:
1. saturation: `--concurrency` connections send `--events` events as fast as answers come back;
2. paced: `--rate` events/s for `--duration` s, latency measured from each request's scheduled
   send time (so a stall is not hidden by the sender waiting on it).
Every answer must be 200; the store must then hold every event.

    python benchmarks/webhook_bench.py [--events 20000] [--concurrency 16] [--rate 1000]
"""

import argparse
import base64
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector.events import EventStore

USER, PASSWORD = "bench", "bench-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@dataclass
class Result:
    """Latencies (s) of one phase and its wall time."""

    name: str
    latencies: list[float]
    wall_s: float
    errors: int

    def row(self) -> str:
        ordered = sorted(self.latencies)

        def ms(q: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        rate = len(ordered) / self.wall_s
        return (
            f"| {self.name} | {len(ordered)} | {self.errors} | {rate:,.0f} | "
            f"{1000 * statistics.fmean(ordered):.1f} | {ms(0.5):.1f} | {ms(0.95):.1f} | "
            f"{ms(0.99):.1f} | {1000 * ordered[-1]:.1f} |"
        )


@contextmanager
def webhook(db_path: str) -> Iterator[str]:
    """Run `portabilling webhook` on a free port; yield its base URL."""
    env = {
        **os.environ,
        "PORTABILLING_WEBHOOK_USER": USER,
        "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD,
    }
    argv = [sys.executable, "-m", "connector.cli", "webhook", "--port", "0", "--db", db_path]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"(http://\S+)/events", process.stdout.readline())
        if not match:
            raise RuntimeError("the webhook did not start")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


class Sender:
    """One keep-alive connection posting events."""

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        self._connection = http.client.HTTPConnection(address.hostname or "", address.port)

    def send(self, i_event: int) -> bool:
        body = json.dumps(
            {
                "event_type": "Subscriber/Updated",
                "variables": {"i_event": i_event, "i_account": i_event % 5000 + 1},
            }
        )
        headers = {"Content-Type": "application/json", "Authorization": AUTHORIZATION}
        self._connection.request("POST", "/events", body, headers)
        response = self._connection.getresponse()
        response.read()
        return response.status == 200


def saturate(url: str, events: int, concurrency: int, first: int) -> Result:
    """Closed loop: each connection sends its next event as soon as the previous one is answered."""
    latencies: list[float] = []
    errors = [0]
    ids = iter(range(first, first + events))
    lock = threading.Lock()

    def worker() -> None:
        sender = Sender(url)
        while True:
            with lock:
                i_event = next(ids, None)
            if i_event is None:
                return
            started = time.perf_counter()
            ok = sender.send(i_event)
            latencies.append(time.perf_counter() - started)
            errors[0] += not ok

    wall = _run_threads(worker, concurrency)
    return Result(f"saturation, {concurrency} connections", latencies, wall, errors[0])


def paced(url: str, rate: float, duration_s: float, concurrency: int, first: int) -> Result:
    """Open loop at `rate`/s, latency counted from each event's scheduled time."""
    latencies: list[float] = []
    errors = [0]
    per_worker = int(rate * duration_s / concurrency)
    interval = concurrency / rate
    start = time.perf_counter() + 0.2

    def worker(offset: int) -> None:
        sender = Sender(url)
        for n in range(per_worker):
            scheduled = start + (n + offset / concurrency) * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the load, not waiting for the system under test
            ok = sender.send(first + n * concurrency + offset)
            latencies.append(time.perf_counter() - scheduled)
            errors[0] += not ok

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return Result(f"paced {rate:,.0f}/s, {concurrency} connections", latencies, wall, errors[0])


def _run_threads(target: Callable[[], None], count: int) -> float:
    threads = [threading.Thread(target=target) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "_events.sqlite3")
        with webhook(db_path) as url:
            results = [
                saturate(url, args.events, args.concurrency, first=1),
                paced(url, args.rate, args.duration, args.concurrency, first=10_000_000),
            ]
        with EventStore(db_path) as store:
            stored = sum(store.counts().values())
    print("| phase | events | non-200 | events/s | mean ms | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        print(result.row())
    sent = sum(len(result.latencies) for result in results)
    print(f"\nstored after shutdown: {stored} of {sent} sent")
    return 0 if stored == sent and not any(result.errors for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
