"""Records/s of ListScan vs a raw-requests ceiling, against the emulator in a separate process.

Usage: python benchmarks/paging_bench.py [--accounts 100000] [--latency-ms 20] [--page-size 1000]
       [--concurrency 8] [--rounds 3]
"""

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import requests

from connector import ClientSettings, PortaBillingClient
from connector.scan.paging import ListScan

LOGIN, PASSWORD = "demo", "exAmple"
ACCOUNTS = ("Account", "get_account_list", "account_list", "i_account")


# Runs in the child process: start the emulator, print its URL, serve until stdin closes.
_SERVE = """
import sys
from connector.emulator import Emulator, EmulatorConfig
config = EmulatorConfig(accounts=int(sys.argv[1]), latency_s=int(sys.argv[2]) / 1000)
with Emulator(config) as emulator:
    print(emulator.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def emulator_process(accounts: int, latency_ms: int) -> Iterator[str]:
    """Run the emulator in its own process; yield its base URL."""
    command = [sys.executable, "-c", _SERVE, str(accounts), str(latency_ms)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdin is not None
        match = re.search(r"https?://\S+", process.stdout.readline())
        assert match, "the emulator printed no URL"
        yield match.group(0)
    finally:
        process.communicate(timeout=30)


def _client(url: str, concurrency: int) -> PortaBillingClient:
    client = PortaBillingClient(
        url, login=LOGIN, password=PASSWORD, settings=ClientSettings(max_concurrency=concurrency)
    )
    client.call("Session", "ping", {})  # log in outside the timed part
    return client


def run_list_scan(url: str, total: int, page_size: int, concurrency: int) -> tuple[int, float]:
    """(rows, seconds) of one ListScan over all accounts."""
    with _client(url, concurrency) as client:
        scan = ListScan(client.call, *ACCOUNTS, page_size=page_size, concurrency=concurrency)
        started = time.perf_counter()
        rows = sum(len(page) for page in scan.pages())
        seconds = time.perf_counter() - started
    assert scan.report.gaps_detected == 0 and rows == total, scan.report
    return rows, seconds


def run_client_pages(url: str, total: int, page_size: int, concurrency: int) -> tuple[int, float]:
    """(rows, seconds) of plain non-overlapping pages through `PortaBillingClient.call`."""
    with _client(url, concurrency) as client:

        def page(offset: int) -> int:
            params = {"offset": offset, "limit": page_size}
            return len(client.call("Account", "get_account_list", params)["account_list"])

        return _timed_pages(page, total, page_size, concurrency)


def run_raw(url: str, total: int, page_size: int, concurrency: int) -> tuple[int, float]:
    """(rows, seconds) of the same pages with bare `requests` and `.json()`: the ceiling."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    login = {"params": {"login": LOGIN, "password": PASSWORD}}
    token = session.post(f"{url}/rest/Session/login", json=login, timeout=30).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    def page(offset: int) -> int:
        params = {"params": {"offset": offset, "limit": page_size}}
        answer = session.post(f"{url}/rest/Account/get_account_list", json=params, headers=headers)
        return len(answer.json()["account_list"])

    return _timed_pages(page, total, page_size, concurrency)


def _timed_pages(
    page: Callable[[int], int], total: int, page_size: int, concurrency: int
) -> tuple[int, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        rows = sum(pool.map(page, range(0, total, page_size)))
    return rows, time.perf_counter() - started


RUNNERS = {"raw requests": run_raw, "client.call": run_client_pages, "ListScan": run_list_scan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best = dict.fromkeys(RUNNERS, float("inf"))
    with emulator_process(args.accounts, args.latency_ms) as url:
        # Interleave the runners and keep each one's best: they share 2 cores with the emulator.
        for _ in range(args.rounds):
            for name, runner in RUNNERS.items():
                rows, seconds = runner(url, args.accounts, args.page_size, args.concurrency)
                assert rows == args.accounts, (name, rows)
                best[name] = min(best[name], seconds)
    print(
        f"accounts={args.accounts} latency={args.latency_ms}ms page_size={args.page_size} "
        f"concurrency={args.concurrency} best of {args.rounds}"
    )
    ceiling = args.accounts / best["raw requests"]
    for name, seconds in best.items():
        rate = args.accounts / seconds
        print(f"{name:>13}: {seconds:6.2f} s  {rate:9,.0f} rows/s  {rate / ceiling:4.0%} of raw")


if __name__ == "__main__":
    main()
