"""Micro-benchmark: records -> typed Arrow batch, and batches -> published Parquet table.

Run: ``python benchmarks/convert_bench.py [--pages 200]``. Records are the bundled emulator's
own (its ground truth, exactly what the API pages carry), so the shapes are realistic: nested
service features, secrets to drop, ids as strings now and then. Times are CPU seconds of this
process (``time.process_time``), best of several repeats, so other load on the machine does not
inflate them.
"""

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connector.emulator import Emulator, EmulatorConfig
from connector.entities import ACCOUNTS, CUSTOMERS, XDRS
from connector.store.arrowio import RecordConverter
from connector.store.storage import TableStore
from connector.store.tables import TableSpec

PAGE = 1000


def cpu_ms(action: Callable[[], Any], repeats: int = 7, number: int = 10) -> list[float]:
    """CPU milliseconds per call of `action`, one figure per repeat."""
    figures = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(number):
            action()
        figures.append((time.process_time() - start) / number * 1000)
    return figures


def bench_convert(spec: TableSpec, records: list[dict[str, Any]]) -> None:
    converter = RecordConverter(spec)
    now = datetime.now(UTC)
    figures = cpu_ms(lambda: converter.to_batch(records, now))
    print(
        f"convert {spec.name:<9} {len(records)} rows x {len(spec.schema)} cols: "
        f"best {min(figures):.2f} ms, median {statistics.median(figures):.2f} ms"
    )


def bench_write(records: list[dict[str, Any]], pages: int) -> None:
    """Stream `pages` converted pages into one published table; report speed and memory."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as root:
        store = TableStore(root)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start, cpu = time.perf_counter(), time.process_time()
        with store.writer(ACCOUNTS.table) as writer:
            converter = RecordConverter(ACCOUNTS.table, base_schema=writer.schema)
            for page in range(pages):
                offset = page * PAGE
                batch = [{**r, "i_account": r["i_account"] + offset} for r in records]
                writer.write(converter.to_batch(batch, now))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = writer.rows
        print(
            f"write accounts {rows} rows ({pages} pages incl. convert): {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU, {rows / wall:,.0f} rows/s, file {writer.bytes_written / 1e6:.1f} MB "
            f"zstd, peak RSS grew {(rss_after - rss_before) / 1024:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="1,000-row pages to write")
    args = parser.parse_args()
    config = EmulatorConfig(customers=PAGE, accounts=PAGE, xdrs_per_account=10, xdr_days=1)
    with Emulator(config) as emulator:
        accounts = emulator.truth.accounts()[:PAGE]
        customers = emulator.truth.customers()[:PAGE]
        xdrs = emulator.truth.xdrs(date(2024, 1, 1))[:PAGE]
    bench_convert(ACCOUNTS.table, accounts)
    bench_convert(CUSTOMERS.table, customers)
    bench_convert(XDRS.table, xdrs)
    bench_write(accounts, args.pages)


if __name__ == "__main__":
    main()
