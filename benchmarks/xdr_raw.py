"""The raw client for one xDR day: the parents, then each parent's xDRs, paged; nothing kept.

The same calls as the connector's `portabilling/xdrs` (or `portabilling/vendor_xdrs`) at the same
page size and concurrency: the parent list method by offset (`Customer/get_customer_list`), then
per parent the xDR method (`Customer/get_customer_xdrs`, with `i_customer`) for the day, its first
page with `get_total` and, once the total is known, the other pages by offset.

python benchmarks/xdr_raw.py URL LOGIN PASSWORD CONCURRENCY PAGE_SIZE YYYY-MM-DD \
    PARENT_METHOD PARENT_LIST PARENT_ID XDR_METHOD
"""

import json
import queue
import sys
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, NamedTuple

from benchmarks.compare.ceiling import call, login, page_params


class Calls(NamedTuple):
    """Which methods one table's day takes: the parents' list, then the per-parent xDR list."""

    parent_method: str  # "Customer/get_customer_list"
    parent_list: str  # "customer_list"
    parent_id: str  # "i_customer": the parent rows' id and the xDR method's parameter
    xdr_method: str  # "Customer/get_customer_xdrs"


class Day:
    """One UTC day's xDR fetch: a shared pool, rows and requests counted as answers come."""

    def __init__(
        self, url: str, headers: dict[str, str], pool: Executor, page_size: int, calls: Calls
    ) -> None:
        self.url, self.headers, self.pool, self.page_size = url, headers, pool, page_size
        self.calls = calls
        self.rows = self.requests = 0
        self._done: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def get(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request, counted."""
        with self._lock:
            self.requests += 1
        return call(self.url, self.headers, method, params)

    def parents(self) -> list[int]:
        """Every parent id: page 0 with the total, then the other pages in parallel."""
        method, size, key = self.calls.parent_method, self.page_size, self.calls.parent_id
        first = self.get(method, page_params(0, True, size))
        offsets = range(size, int(first["total"]), size)
        rest = self.pool.map(lambda at: self.get(method, page_params(at, False, size)), offsets)
        pages = [first, *rest]
        return [row[key] for page in pages for row in page[self.calls.parent_list]]

    def xdrs(self, parents: list[int], window: dict[str, str]) -> None:
        """Each parent's first page; a full one sends the parent's other pages by offset."""
        outstanding = 0
        for parent in parents:
            first = page_params(0, True, self.page_size)
            self._submit({self.calls.parent_id: parent, **window, **first})
            outstanding += 1
        while outstanding:
            answer, params = self._done.get().result()
            outstanding -= 1
            self.rows += len(answer["xdr_list"])
            if params["offset"] == 0:
                for offset in range(self.page_size, int(answer["total"]), self.page_size):
                    self._submit({**params, **page_params(offset, False, self.page_size)})
                    outstanding += 1

    def _submit(self, params: dict[str, Any]) -> None:
        future = self.pool.submit(lambda: (self.get(self.calls.xdr_method, params), params))
        future.add_done_callback(self._done.put)


def main() -> None:
    """Print rows, requests and seconds (all calls; the xDR calls alone) as one JSON line."""
    url, user, password = sys.argv[1:4]
    concurrency, page_size, day = (
        int(sys.argv[4]),
        int(sys.argv[5]),
        date.fromisoformat(sys.argv[6]),
    )
    calls = Calls(*sys.argv[7:11])
    headers = login(url, user, password)
    window = {"from_date": f"{day} 00:00:00", "to_date": f"{day + timedelta(days=1)} 00:00:00"}
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        fetch = Day(url, headers, pool, page_size, calls)
        parents = fetch.parents()
        listed = time.monotonic()
        fetch.xdrs(parents, window)
    ended = time.monotonic()
    times = {"fetch_s": ended - started, "xdrs_s": ended - listed}
    print(json.dumps({"rows": fetch.rows, "requests": fetch.requests, **times}))


if __name__ == "__main__":
    main()
