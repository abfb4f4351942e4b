"""Profile our accounts extraction alone (no Dagster) against the emulator in its own process.

python -m benchmarks.compare.profile_extraction --accounts 100000 --latency-ms 20 [--html out.html]
"""

import argparse
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler

from benchmarks.compare.contenders import LOGIN, PASSWORD, REPO
from benchmarks.compare.emulator import EmulatorProcess
from connector.api.client import PortaBillingClient
from connector.entities import ACCOUNTS
from connector.store.storage import TableStore
from connector.sync.extract import extract_snapshot


def main() -> None:
    """Run one extraction under pyinstrument; print the rate and the call tree."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args()
    with (
        EmulatorProcess(args.accounts, args.latency_ms, REPO) as emulator,
        tempfile.TemporaryDirectory() as data,
    ):
        client = PortaBillingClient(emulator.url, login=LOGIN, password=PASSWORD)
        profiler = Profiler(interval=0.002)
        started = time.monotonic()
        with profiler, client:
            result = extract_snapshot(client, TableStore(data), ACCOUNTS, print)
        seconds = time.monotonic() - started
    print(f"{result.rows:,} rows in {seconds:.2f} s = {result.rows / seconds:,.0f} records/s")
    print(profiler.output_text(unicode=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
