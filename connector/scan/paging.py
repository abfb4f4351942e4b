"""Paging of PortaBilling list methods into a snapshot that survives drift (no Dagster).

Offset paging is not stable: the server picks the order, and entities created or closed while we
page shift the offsets, so plain pages repeat or skip rows. This module turns a list method
(`limit`/`offset`/`get_total`) into pages that hold every *stable* entity (one that existed for the
whole scan) exactly once.

Assumption: the relative order of two entities is the same in every call while both exist (the
server may insert and delete anywhere, but it does not reshuffle). Everything below rests on it.

Design:
- A *window* is what one request returned: a contiguous slice of the list as it was at that moment.
  Page 0 asks `offset 0, limit L, get_total 1`; page k >= 1 asks `offset kL - o, limit L + o`,
  where the overlap `o` defaults to 2% of L (at least 5). Pages 1.. are fetched in parallel,
  without `get_total` (a count costs the server a query).
- A window is *linked* when it starts at offset 0 or shares a key y with a window already in the
  chain. A chain of linked windows that ends with a *short* window (fewer rows than asked: the end
  of the list) holds every stable entity. Induction: if every stable entity up to the last row of
  any chain window is in the chain, a new window W linked by y adds those between y and W's last
  row, because W was contiguous when served and they existed then; a short W reaches the end.
  Linking to any earlier window, not only the previous one, survives a bulk close of whole pages.
- A *gap* is an unlinked page: more than `o` rows ahead of it vanished between the fetches.
  Repair: fetch one window around the boundary, widening it (doubling, towards the side whose key is
  missing; at offset 0 it links by itself) until it is linked and shares a key with the page, or it
  is short. The chain then runs ... -> repair -> page. Past `max_repair_steps` tries: `PagingError`.
- End: after the pages the first `total` announced, pages continue one at a time while the last one
  is full (creations pushed rows past the first total). A final `limit 1, get_total 1` request reads
  `total_after`; it is sent once the short page is read, while its rows are still being written.
  Past `max_pages` page requests (default 2 x expected + 10): `PagingError`.
- Output: each page's rows de-duplicated by key over the whole scan, in chain order (the server's
  order; a row created during the scan may come a little after its place). Windows fetched after the
  end was proven are dropped: any row they add did not exist for the whole scan.
- Memory: every request goes through a pool of `concurrency` threads and at most `concurrency`
  pages are in flight or waiting to be read (a look-ahead of 2 x `concurrency` was no faster,
  since the reader, not the fetchers, sets the pace). A `call` may return a function that decodes
  the answer (`PortaBillingClient.send`): waiting pages then hold their JSON text (~0.8 MB a
  1,000-row account page, where the decoded page holds ~3.2 MB of Python objects), and the reader
  decodes each one when it takes it (~40 MB less at the peak of a 100k-account scan, no slower,
  since decoding holds the GIL on whichever thread runs it). The seen keys are a `KeySet`: 1.0 MB
  at 1M ids from one sequence, in any order, 8 MB at 1M ids spread over 62 bits, where a
  `set[int]` held 65 MB (tracemalloc, `benchmarks/keyset_bench.py`).
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from itertools import chain, compress
from typing import Any

import numpy as np

from connector.api.errors import ConfigurationError, PortaBillingError
from connector.api.settings import DEFAULTS
from connector.scan.keyset import KeyArray, KeyRangeError, KeySet, key_array

Answer = dict[str, Any]
# Returns the decoded answer, or a function that decodes it when the reader needs it.
Call = Callable[[str, str, dict[str, Any]], Answer | Callable[[], Answer]]
Row = dict[str, Any]
Page = list[Row]

MIN_OVERLAP = 5
# A repair window starts at 5 x overlap rows and at most doubles per step: 8 steps stay under
# 1,021 x overlap rows (about 20 pages at the default overlap).
DEFAULT_MAX_REPAIR_STEPS = 8
# Without a total we cannot size the plan; this only stops a server that never ends a list.
MAX_PAGES_WITHOUT_TOTAL = 100_000


class PagingError(PortaBillingError):
    """The list drifted beyond repair or the server pages inconsistently: no snapshot to trust."""


@dataclass
class ScanReport:
    """What one scan did and repaired; `as_dict()` goes into the run's metadata."""

    requests: int = 0
    pages: int = 0
    rows: int = 0
    duplicates_dropped: int = 0
    total_before: int | None = None
    total_after: int | None = None
    gaps_detected: int = 0
    gaps_repaired: int = 0
    rescans: int = 0
    extra_pages: int = 0

    def as_dict(self) -> dict[str, int | None]:
        """The counters by name."""
        return asdict(self)

    def absorb(self, other: "ScanReport") -> None:
        """Add another scan's counters; a total stays known only while every scan's total is."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, None if mine is None or theirs is None else mine + theirs)


@dataclass(frozen=True)
class Progress:
    """Where a scan stands; `on_progress` receives one after every page (FanOut: every scan)."""

    pages_done: int
    pages_expected: int
    rows: int
    elapsed_s: float

    @property
    def rows_per_s(self) -> float:
        """Rows yielded per second so far."""
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current page rate, None before the first page."""
        if self.pages_done == 0 or self.elapsed_s <= 0:
            return None
        left = max(0, self.pages_expected - self.pages_done)
        return left * self.elapsed_s / self.pages_done


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class _Sent:
    """A request's bounds and its answer, as the pool thread got it (maybe not decoded yet)."""

    offset: int
    limit: int
    answer: Answer | Callable[[], Answer]


@dataclass(frozen=True)
class _Window:
    """The rows one request returned, with their keys in order."""

    offset: int
    limit: int
    rows: list[Row]
    keys: KeyArray
    total: int | None

    @property
    def is_short(self) -> bool:
        """Fewer rows than asked: the list ended inside this window."""
        return len(self.rows) < self.limit

    def is_linked_to(self, other: "_Window") -> bool:
        """Both windows hold at least one common key."""
        return bool(np.isin(self.keys, other.keys).any())


def parse_total(value: Any) -> int | None:
    """The list's `total` as an int; servers send it as a number or a string, or not at all."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise PagingError(f"unreadable total {value!r}")


def default_overlap(page_size: int) -> int:
    """2% of the page, at least MIN_OVERLAP rows, never more than the page."""
    return min(page_size, max(MIN_OVERLAP, page_size // 50))


def expected_pages(total: int | None, page_size: int) -> int:
    """Pages to plan from the first total, the last being the short one that proves the end."""
    return (total or 0) // page_size + 1


def page_bounds(index: int, page_size: int, overlap: int) -> tuple[int, int]:
    """(offset, limit) of page `index`: every page after the first reaches back `overlap` rows."""
    if index == 0:
        return 0, page_size
    return index * page_size - overlap, page_size + overlap


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool that drops its queued work when the consumer stops early."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="paging")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ConfigurationError(f"{name} must be >= 1, got {value}")


class ListScan:
    """A drift-repaired snapshot of one list method; iterate `pages()`, then read `report`."""

    def __init__(
        self,
        call: Call,
        service: str,
        method: str,
        list_key: str,
        key: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int = DEFAULTS.page_size,
        concurrency: int = DEFAULTS.max_concurrency,
        overlap: int | None = None,
        max_pages: int | None = None,
        max_repair_steps: int = DEFAULT_MAX_REPAIR_STEPS,
        check_total_after: bool = True,
        on_progress: ProgressCallback | None = None,
        clock: Callable[[], float] = time.time,
        executor: Executor | None = None,
    ) -> None:
        self.overlap = default_overlap(page_size) if overlap is None else overlap
        check_positive(
            page_size=page_size,
            concurrency=concurrency,
            overlap=self.overlap,
            max_repair_steps=max_repair_steps,
        )
        if max_pages is not None:
            check_positive(max_pages=max_pages)
        if self.overlap > page_size:
            raise ConfigurationError(f"overlap ({self.overlap}) must not exceed page_size")
        self._call, self.service, self.method = call, service, method
        self.list_key, self.key, self.params = list_key, key, dict(params or {})
        self.page_size, self.concurrency = page_size, concurrency
        self.max_pages, self.max_repair_steps = max_pages, max_repair_steps
        self.check_total_after = check_total_after
        self._on_progress, self._clock, self._executor = on_progress, clock, executor
        self.report = ScanReport()
        self._seen = KeySet()
        self._lock = threading.Lock()

    def _start_over(self) -> None:
        """Each pass of `pages()` is a fresh scan with a fresh report."""
        self.report, self._seen = ScanReport(), KeySet()

    def pages(self) -> Generator[Page, None, None]:
        """De-duplicated pages in the server's order; `report` is final once this is exhausted."""
        if self._executor is not None:
            yield from self._scan(self._executor)
            return
        with thread_pool(self.concurrency) as pool:
            yield from self._scan(pool)

    def _error(self, message: str) -> PagingError:
        return PagingError(message, service=self.service, method=self.method)

    def _fetch(self, offset: int, limit: int, with_total: bool) -> _Sent:
        """One request (runs on a pool thread)."""
        params = {**self.params, "offset": offset, "limit": limit}
        if with_total:  # a count costs the server a query: ask only where we read it
            params["get_total"] = 1
        answer = self._call(self.service, self.method, params)
        with self._lock:
            self.report.requests += 1
        return _Sent(offset, limit, answer)

    def _window(self, future: "Future[_Sent]") -> _Window:
        """The window a request returned, decoded here, on the reading thread."""
        sent = future.result()
        answer = sent.answer() if callable(sent.answer) else sent.answer
        rows = answer.get(self.list_key)
        if not isinstance(rows, list):
            raise self._error(f"answer has no list {self.list_key!r}")
        total = parse_total(answer.get("total"))
        return _Window(sent.offset, sent.limit, rows, self._keys_of(rows), total)

    def _keys_of(self, rows: list[Row]) -> KeyArray:
        try:
            return key_array(self._key_values(rows), len(rows))
        except KeyRangeError:
            raise self._error(f"a row's {self.key!r} does not fit in 64 bits") from None

    def _key_values(self, rows: list[Row]) -> Iterable[int]:
        """The rows' keys as ints, taken as they are when every one already is (the usual page)."""
        with suppress(KeyError, TypeError):
            keys = [row[self.key] for row in rows]
            if set(map(type, keys)) <= {int}:
                return keys
        return (self._key_of(row) for row in rows)  # converts each, or names the bad row

    def _key_of(self, row: Row) -> int:
        try:
            return int(row[self.key])
        except (KeyError, TypeError, ValueError):
            raise self._error(f"a row has no integer {self.key!r}") from None

    def _submit(
        self, pool: Executor, offset: int, limit: int, with_total: bool = False
    ) -> "Future[_Sent]":
        return pool.submit(self._fetch, offset, limit, with_total)

    def _scan(self, pool: Executor) -> Iterator[Page]:
        self._start_over()
        started = self._clock()
        first = self._window(self._submit(pool, 0, self.page_size, with_total=True))
        self.report.total_before = first.total
        expected = expected_pages(self.report.total_before, self.page_size)
        self.report.pages = 1
        closing_count: Future[_Sent] | None = None
        if first.is_short:
            closing_count = self._count_again(pool)
            yield from self._emit([first])
            self._progress(started, expected, first)
        else:
            with closing(self._schedule(pool, expected)) as scheduled:
                # Taking the first future sends the whole look-ahead: the server works on it
                # while the consumer reads page 0 (the process's first page also pays ~0.3 s
                # of pyarrow importing pandas).
                upcoming = chain([next(scheduled)], scheduled)
                yield from self._emit([first])
                self._progress(started, expected, first)
                for index, future in upcoming:
                    windows = self._chain(pool, index, self._window(future))
                    last = windows[-1]
                    if last.is_short:
                        closing_count = self._count_again(pool)
                    yield from self._emit(windows)
                    self._progress(started, expected, last)
                    if last.is_short:
                        break
        if closing_count is not None:
            self.report.total_after = self._window(closing_count).total

    def _chain(self, pool: Executor, index: int, page: _Window) -> list[_Window]:
        """`page`, after the windows that repair a gap before it (none when it is linked)."""
        self.report.pages += 1
        return [page] if self._is_linked(page) else self._repair(pool, index, page)

    def _count_again(self, pool: Executor) -> "Future[_Sent] | None":
        """Send the closing `total` request (if asked for) as soon as the list's end is read.

        Every page has been served by then: the count goes out while the last rows are written.
        """
        if not self.check_total_after:
            return None
        return self._submit(pool, 0, 1, with_total=True)

    def _is_linked(self, window: _Window) -> bool:
        """The window starts the list or overlaps a window already in the chain."""
        return window.offset == 0 or self._seen.contains_any(window.keys)

    def _schedule(
        self, pool: Executor, expected: int
    ) -> Generator[tuple[int, "Future[_Sent]"], None, None]:
        """Futures of pages 1.. in order: expected ones in a bounded look-ahead, then one by one."""
        pending: deque[tuple[int, Future[_Sent]]] = deque()
        limit = self._page_limit(expected)
        index = 1
        try:
            while True:
                while index < min(expected, limit) and len(pending) < self.concurrency:
                    pending.append((index, self._submit(pool, *self._bounds(index))))
                    index += 1
                if not pending:
                    if index >= limit:
                        raise self._error(f"list did not end within {limit} pages (loop guard)")
                    self.report.extra_pages += 1
                    pending.append((index, self._submit(pool, *self._bounds(index))))
                    index += 1
                yield pending.popleft()
        finally:
            for _, future in pending:
                future.cancel()

    def _bounds(self, index: int) -> tuple[int, int]:
        return page_bounds(index, self.page_size, self.overlap)

    def _page_limit(self, expected: int) -> int:
        if self.max_pages is not None:
            return self.max_pages
        if self.report.total_before is None:
            return MAX_PAGES_WITHOUT_TOTAL
        return 2 * expected + 10

    def _repair(self, pool: Executor, index: int, page: _Window) -> list[_Window]:
        """Windows that link the chain to `page` (or to the end of the list) across a gap."""
        self.report.gaps_detected += 1
        step = 2 * self.overlap
        boundary = index * self.page_size
        low, high = boundary - self.overlap - step, boundary + step
        for _ in range(self.max_repair_steps):
            low = max(0, low)
            window = self._window(self._submit(pool, low, high - low))
            self.report.rescans += 1
            has_tail, has_next = self._is_linked(window), window.is_linked_to(page)
            if has_tail and (has_next or window.is_short):
                self.report.gaps_repaired += 1
                return [window, page] if has_next else [window]
            step *= 2
            low -= 0 if has_tail else step
            high += 0 if has_next or window.is_short else step
        raise self._error(
            f"could not link rows around offset {boundary} after {self.max_repair_steps} re-scans"
        )

    def _emit(self, windows: list[_Window]) -> Iterator[Page]:
        """Yield the rows of `windows` not seen before (skips a page that adds nothing)."""
        fresh: Page = []
        for window in windows:
            fresh.extend(compress(window.rows, self._seen.add_new(window.keys)))
        self.report.duplicates_dropped += sum(len(window.rows) for window in windows) - len(fresh)
        self.report.rows += len(fresh)
        if fresh:
            yield fresh

    def _progress(self, started: float, expected: int, last: _Window) -> None:
        """Tell `on_progress`; at the end of the list, expected pages become the pages done."""
        if self._on_progress is not None:
            done = self.report.pages
            expected = done if last.is_short else max(expected, done)
            elapsed = self._clock() - started
            self._on_progress(Progress(done, expected, self.report.rows, elapsed))
