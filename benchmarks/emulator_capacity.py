"""Emulator capacity: small calls/s and 1,000-row pages/s at 8 clients, and 1M-account start-up.

Starts the real `portabilling emulator` as a subprocess and drives it from THIS process (a
separate load process) with keep-alive `http.client` connections, one per thread:
1. small calls: `Account/get_account_info` for random accounts, `--duration` s;
2. pages: `Account/get_account_list` with `limit` 1000 at random offsets, `--duration` s;
3. start-up: a `--big-accounts` emulator, time until it answers a login, its resident memory,
   and pages/s on it.

    python benchmarks/emulator_capacity.py [--threads 8] [--duration 10] [--big-accounts 1000000]
"""

import argparse
import http.client
import json
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ACCOUNTS, CUSTOMERS = 100_000, 2_000
PORTABILLING = str(Path(sys.executable).with_name("portabilling"))
Call = tuple[str, dict[str, Any]]


@dataclass
class Server:
    """A running emulator subprocess."""

    process: subprocess.Popen[str]
    url: str
    started_s: float = 0.0

    def rss_mb(self) -> float:
        """Resident memory of the emulator process."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")


@contextmanager
def emulator(accounts: int, customers: int) -> Iterator[Server]:
    """Run `portabilling emulator` on a free port until the block ends."""
    args = ["--port", "0", "--accounts", str(accounts), "--customers", str(customers)]
    begin = time.perf_counter()
    process = subprocess.Popen([PORTABILLING, "emulator", *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"https?://\S+", process.stdout.readline())
        if match is None:
            raise RuntimeError("the emulator did not print its URL")
        server = Server(process, match.group(0))
        Client(server.url).login()
        server.started_s = time.perf_counter() - begin
        yield server
    finally:
        process.terminate()
        process.wait(10)


class Client:
    """One keep-alive connection speaking JSON + Bearer."""

    def __init__(self, url: str, token: str | None = None) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self.token = token

    def call(self, name: str, params: dict[str, Any]) -> bytes:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.connection.request("POST", f"/rest/{name}", json.dumps({"params": params}), headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{name}: HTTP {response.status}")
        return body

    def login(self) -> str:
        answer = json.loads(self.call("Session/login", {"login": "demo", "password": "exAmple"}))
        token: str = answer["access_token"]
        self.token = token
        return token


def rate(
    url: str, token: str, threads: int, duration: float, make_call: Callable[[random.Random], Call]
) -> tuple[float, int]:
    """Calls per second over `duration` with `threads` connections, and bytes per answer."""
    counts, sizes = [0] * threads, [0] * threads
    deadline = time.perf_counter() + duration

    def work(n: int) -> None:
        client, rng = Client(url, token), random.Random(n)
        while time.perf_counter() < deadline:
            sizes[n] += len(client.call(*make_call(rng)))
            counts[n] += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    begin = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = sum(counts)
    return total / (time.perf_counter() - begin), sum(sizes) // max(total, 1)


def account_info(accounts: int) -> Callable[[random.Random], Call]:
    return lambda rng: ("Account/get_account_info", {"i_account": 1000 + rng.randrange(accounts)})


def account_page(accounts: int) -> Callable[[random.Random], Call]:
    return lambda rng: (
        "Account/get_account_list",
        {"limit": 1000, "offset": rng.randrange(accounts - 1000)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--big-accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(
        f"machine: {cores} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"load average (1 min) at start: {load:.1f}")
    with emulator(ACCOUNTS, CUSTOMERS) as server:
        token = Client(server.url).login()
        small, size = rate(server.url, token, args.threads, args.duration, account_info(ACCOUNTS))
        print(f"get_account_info, {args.threads} clients: {small:,.0f} calls/s ({size:,} B each)")
        pages, size = rate(server.url, token, args.threads, args.duration, account_page(ACCOUNTS))
        print(f"get_account_list x1000, {args.threads} clients: {pages:,.1f} pages/s ({size:,} B)")
        print(f"RSS after load, {ACCOUNTS:,} accounts: {server.rss_mb():.0f} MB")
    big = args.big_accounts
    with emulator(big, big // 50) as server:
        print(f"{big:,} accounts: up in {server.started_s:.2f} s, RSS {server.rss_mb():.0f} MB")
        token = Client(server.url).login()
        pages, _ = rate(server.url, token, args.threads, args.duration / 2, account_page(big))
        print(f"{big:,} accounts: {pages:,.1f} pages/s, RSS after paging {server.rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
