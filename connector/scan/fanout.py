"""Many small list scans side by side, e.g. xDRs: one `ListScan` per customer (no Dagster).

`FanOut` starts scans on driver threads that share one pool of fetch threads, hands their pages to
the consumer scan by scan (in the order of the parameter sets) through small `_Handoff` buffers,
and drops rows whose key an earlier scan already yielded. Each scan repairs its own drift as
`connector.scan.paging` describes.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import closing
from itertools import compress
from typing import Any

from connector.api.settings import DEFAULTS
from connector.scan.keyset import KeySet, key_array
from connector.scan.paging import (
    Call,
    ListScan,
    Page,
    Progress,
    ProgressCallback,
    ScanReport,
    check_positive,
    thread_pool,
)


class _Handoff:
    """A few pages handed from a driver thread to the consumer; cancelling releases the driver."""

    def __init__(self, capacity: int) -> None:
        self._pages: deque[Page] = deque()
        self._capacity = capacity
        self._changed = threading.Condition()
        self._finished = self._cancelled = False

    def put(self, page: Page) -> bool:
        """Wait for room and hand `page` over; False once the consumer has gone."""
        with self._changed:
            self._changed.wait_for(lambda: self._cancelled or len(self._pages) < self._capacity)
            if not self._cancelled:
                self._pages.append(page)
                self._changed.notify_all()
            return not self._cancelled

    def finish(self) -> None:
        """The driver has no more pages (done or failed)."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()

    def cancel(self) -> None:
        """The consumer wants no more pages."""
        with self._changed:
            self._cancelled = True
            self._pages.clear()
            self._changed.notify_all()

    def __iter__(self) -> Iterator[Page]:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pages) or self._finished)
                if not self._pages:
                    return
                page = self._pages.popleft()
                self._changed.notify_all()
            yield page


def _drive(scan: ListScan, handoff: _Handoff) -> None:
    """Run `scan` on a driver thread, handing its pages over as they come."""
    try:
        with closing(scan.pages()) as pages:
            for page in pages:
                if not handoff.put(page):
                    return
    finally:
        handoff.finish()


_Started = tuple[ListScan, _Handoff, "Future[None]"]


class FanOut:
    """Many small scans of one list method run side by side, e.g. xDRs: one scan per customer.

    Iterate it for pages (scan by scan, in `param_sets` order, rows de-duplicated by key across all
    scans); `report` adds up the scans once iteration ends. Progress counts finished scans as pages.
    At most `concurrency` scans run at once and 2 x `concurrency` are started, each holding at most
    2 pages for the consumer plus its own look-ahead, so one huge scan streams like a `ListScan`.
    """

    def __init__(
        self,
        call: Call,
        service: str,
        method: str,
        list_key: str,
        key: str,
        param_sets: Iterable[dict[str, Any]],
        *,
        page_size: int = DEFAULTS.page_size,
        concurrency: int = DEFAULTS.max_concurrency,
        on_progress: ProgressCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_positive(page_size=page_size, concurrency=concurrency)
        self._call, self.service, self.method = call, service, method
        self.list_key, self.key, self.page_size = list_key, key, page_size
        self._param_sets = list(param_sets)
        self.concurrency = concurrency
        self._on_progress, self._clock = on_progress, clock
        # Per-scan totals add up; nobody re-reads a total after a small scan.
        self.report = ScanReport(total_before=0)
        self._pages = self._run()

    def __iter__(self) -> "FanOut":
        return self

    def __next__(self) -> Page:
        return next(self._pages)

    def close(self) -> None:
        """Stop early: cancel the scans ahead and wait for the requests in flight."""
        self._pages.close()

    def _run(self) -> Generator[Page, None, None]:
        started = self._clock()
        # The scans close before the pools shut down, so no driver still waits to hand a page over.
        with (
            thread_pool(self.concurrency) as fetchers,
            thread_pool(self.concurrency) as drivers,
            closing(self._started_scans(drivers, fetchers)) as scans,
        ):
            yield from self._consume(scans, started)

    def _consume(self, scans: Iterator[_Started], started: float) -> Iterator[Page]:
        """Each scan's pages in turn, minus keys an earlier scan yielded; counts and reports."""
        seen = KeySet()
        for done, (scan, handoff, driver) in enumerate(scans, 1):
            for page in handoff:
                fresh = self._drop_seen(page, seen)
                if fresh:
                    yield fresh
            driver.result()  # the scan's own error, if it failed
            self._count(scan.report)
            if self._on_progress is not None:
                elapsed = self._clock() - started
                total = len(self._param_sets)
                self._on_progress(Progress(done, total, self.report.rows, elapsed))

    def _count(self, scan: ScanReport) -> None:
        """Add a finished scan; its rows were counted as they passed `_drop_seen`."""
        rows = self.report.rows
        self.report.absorb(scan)
        self.report.rows = rows

    def _drop_seen(self, page: Page, seen: KeySet) -> Page:
        """Rows whose key an earlier scan has not yielded already (the scans de-dup themselves)."""
        keys = key_array((int(row[self.key]) for row in page), len(page))
        fresh = list(compress(page, seen.add_new(keys)))
        self.report.duplicates_dropped += len(page) - len(fresh)
        self.report.rows += len(fresh)
        return fresh

    def _started_scans(
        self, drivers: Executor, fetchers: Executor
    ) -> Generator[_Started, None, None]:
        """Scans in `param_sets` order, started up to 2 x concurrency scans ahead of their turn."""
        pending: deque[_Started] = deque()
        params = iter(self._param_sets)
        try:
            while True:
                for more in params:
                    scan, handoff = self._scan(more, fetchers), _Handoff(2)
                    pending.append((scan, handoff, drivers.submit(_drive, scan, handoff)))
                    if len(pending) >= 2 * self.concurrency:
                        break
                if not pending:
                    return
                yield pending[0]
                pending.popleft()
        finally:
            for _, handoff, driver in pending:
                driver.cancel()
                handoff.cancel()

    def _scan(self, params: dict[str, Any], fetchers: Executor) -> ListScan:
        return ListScan(
            self._call,
            self.service,
            self.method,
            self.list_key,
            self.key,
            params,
            page_size=self.page_size,
            concurrency=self.concurrency,
            check_total_after=False,
            executor=fetchers,
        )
