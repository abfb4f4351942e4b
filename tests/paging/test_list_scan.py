"""ListScan against the emulator: clean scans, parallelism, totals, drift repair and loop guards."""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from connector.scan.paging import ListScan, PagingError, Progress, default_overlap, expected_pages

ACCOUNTS = ("Account", "get_account_list", "account_list", "i_account")
Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def _scan(call: Call, **options: Any) -> ListScan:
    return ListScan(call, *ACCOUNTS, **options)


def _keys(rows: list[dict[str, Any]]) -> list[int]:
    return [row["i_account"] for row in rows]


def _run(scan: ListScan) -> list[dict[str, Any]]:
    return [row for page in scan.pages() for row in page]


def _assert_snapshot(
    rows: list[dict[str, Any]], before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    """Stable accounts exactly once, no key twice, every row as it was when it existed."""
    keys = _keys(rows)
    assert len(keys) == len(set(keys))
    stable = set(_keys(before)) & set(_keys(after))
    assert stable <= set(keys)
    known = {row["i_account"]: row for row in before + after}
    newest_before = max(_keys(before))
    for row in rows:
        # Accounts created and closed during the scan are in neither truth: they have newer keys.
        assert known.get(row["i_account"], row) == row
        assert row["i_account"] in known or row["i_account"] > newest_before


def test_clean_scan_equals_truth_in_server_order(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=230)
    rows = _run(_scan(connect(emu).call, page_size=20))
    assert rows == emu.truth.accounts()


def test_clean_scan_report_counts_every_request_and_overlap(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=230)
    scan = _scan(connect(emu).call, page_size=20)
    rows = _run(scan)
    pages = expected_pages(230, 20)
    assert scan.report.as_dict() == {
        "requests": pages + 1,
        "pages": pages,
        "rows": len(rows),
        "duplicates_dropped": default_overlap(20) * (pages - 1),
        "total_before": 230,
        "total_after": 230,
        "gaps_detected": 0,
        "gaps_repaired": 0,
        "rescans": 0,
        "extra_pages": 0,
    }
    assert emu.counters.requests["Account/get_account_list"] == scan.report.requests


def test_empty_list_yields_nothing(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=0)
    scan = _scan(connect(emu).call, page_size=20)
    assert list(scan.pages()) == []
    assert (scan.report.pages, scan.report.total_before) == (1, 0)


def test_total_sent_as_a_string_is_read(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=95, total_as_string=True)
    scan = _scan(connect(emu).call, page_size=20)
    rows = _run(scan)
    assert (scan.report.total_before, scan.report.total_after) == (95, 95)
    assert _keys(rows) == _keys(emu.truth.accounts())


def test_pages_are_fetched_in_parallel_within_the_concurrency(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=300, latency_s=0.01)
    scan = _scan(connect(emu).call, page_size=10, concurrency=4)
    _run(scan)
    assert 2 <= emu.counters.max_in_flight <= 4


class _CountingPool(ThreadPoolExecutor):
    """A thread pool that counts the requests handed to it."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> "Future[Any]":
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_the_look_ahead_is_sent_before_page_0_is_handed_over(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=300)
    with _CountingPool(4) as pool:
        pages = _scan(connect(emu).call, page_size=10, concurrency=4, executor=pool).pages()
        first = next(pages)
        assert pool.submitted == 1 + 4  # page 0, then pages 1-4 before page 0 reached us
        pages.close()
    assert _keys(first) == _keys(emu.truth.accounts()[:10])


def test_answers_sent_undecoded_are_decoded_by_the_reader(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=230)
    client = connect(emu)
    decoded_on: list[int] = []

    def send(service: str, method: str, params: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        decode = client.send(service, method, params)

        def decode_and_note() -> dict[str, Any]:
            decoded_on.append(threading.get_ident())
            return decode()

        return decode_and_note

    rows = _run(_scan(send, page_size=20, concurrency=4))
    assert rows == emu.truth.accounts()
    assert set(decoded_on) == {threading.get_ident()}  # never on a pool thread
    assert len(decoded_on) == expected_pages(230, 20) + 1  # every page, and the final total


@pytest.mark.parametrize("churn", [1, 5, 20])
def test_churn_keeps_every_stable_account_exactly_once(
    make_emulator: Any, connect: Any, churn: int
) -> None:
    emu = make_emulator(accounts=400, churn_per_page=churn)
    before = emu.truth.accounts()
    scan = _scan(connect(emu).call, page_size=10)
    rows = _run(scan)
    _assert_snapshot(rows, before, emu.truth.accounts())
    assert scan.report.gaps_repaired == scan.report.gaps_detected


def test_heavy_churn_shows_its_repairs_in_the_report(make_emulator: Any, connect: Any) -> None:
    # One worker makes the request order, hence the emulator's churn, the same on every run.
    emu = make_emulator(accounts=200, churn_per_page=50)
    before = emu.truth.accounts()
    scan = _scan(connect(emu).call, page_size=10, concurrency=1)
    rows = _run(scan)
    _assert_snapshot(rows, before, emu.truth.accounts())
    assert scan.report.gaps_detected >= 1
    assert scan.report.gaps_repaired == scan.report.gaps_detected
    assert scan.report.rescans >= scan.report.gaps_detected
    assert scan.report.requests == emu.counters.requests["Account/get_account_list"]


def _after_page(number: int, action: Callable[[], None]) -> Callable[[Progress], None]:
    """An on_progress hook that runs `action` once, after page `number`."""

    def hook(progress: Progress) -> None:
        if progress.pages_done == number:
            action()

    return hook


def test_mass_deletion_ahead_mid_scan_is_detected_and_repaired(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=300)
    before = emu.truth.accounts()

    def delete_first_rows() -> None:
        for row in before[:60]:
            emu.delete_account(row["i_account"])

    hook = _after_page(2, delete_first_rows)
    scan = _scan(connect(emu).call, page_size=10, concurrency=2, on_progress=hook)
    rows = _run(scan)
    _assert_snapshot(rows, before, emu.truth.accounts())
    assert scan.report.gaps_detected >= 1
    assert scan.report.gaps_repaired == scan.report.gaps_detected
    assert scan.report.total_after == 240


def test_creations_past_the_first_total_are_fetched_as_extra_pages(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=100, customers=3)
    before = emu.truth.accounts()
    owner = before[0]["i_customer"]

    def create_many() -> None:
        for _ in range(80):
            emu.create_account(owner)

    scan = _scan(connect(emu).call, page_size=10, on_progress=_after_page(1, create_many))
    rows = _run(scan)
    _assert_snapshot(rows, before, emu.truth.accounts())
    assert scan.report.extra_pages >= 1
    assert (scan.report.total_before, scan.report.total_after) == (100, 180)


def test_loop_guard_stops_a_server_that_ignores_offset(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=100)
    client = connect(emu)

    def offset_ignored(service: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return client.call(service, method, {**params, "offset": 0})

    scan = _scan(offset_ignored, page_size=10)
    with pytest.raises(PagingError, match="loop guard"):
        _run(scan)
    pages = expected_pages(100, 10)
    assert scan.report.pages == 2 * pages + 10
    assert emu.counters.requests["Account/get_account_list"] <= 2 * pages + 10


def test_max_pages_is_the_loop_guard_when_given(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=100)
    with pytest.raises(PagingError, match="within 5 pages"):
        _run(_scan(connect(emu).call, page_size=10, max_pages=5))


def test_a_gap_wider_than_the_repair_steps_raises(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=300)
    before = emu.truth.accounts()

    def delete_first_rows() -> None:
        for row in before[:100]:
            emu.delete_account(row["i_account"])

    scan = _scan(
        connect(emu).call,
        page_size=10,
        concurrency=1,
        max_repair_steps=1,
        on_progress=_after_page(2, delete_first_rows),
    )
    with pytest.raises(PagingError, match="could not link"):
        _run(scan)
    assert scan.report.gaps_detected == 1
    assert scan.report.gaps_repaired == 0


def test_progress_follows_each_page_on_the_injected_clock(
    make_emulator: Any, connect: Any, clock: Any
) -> None:
    emu = make_emulator(accounts=45)
    seen: list[Progress] = []

    def record(progress: Progress) -> None:
        seen.append(progress)
        clock.advance(2.0)

    _run(_scan(connect(emu).call, page_size=10, on_progress=record, clock=clock))
    assert [p.pages_done for p in seen] == [1, 2, 3, 4, 5]
    assert {p.pages_expected for p in seen} == {5}
    assert [p.elapsed_s for p in seen] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert seen[-1].rows == 45


def test_stopping_early_leaves_no_request_behind(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=300)
    pages = _scan(connect(emu).call, page_size=10, concurrency=2).pages()
    first = next(pages)
    pages.close()
    assert len(first) == 10
    served = emu.counters.requests["Account/get_account_list"]
    assert served <= 1 + 2 * 2
    assert emu.counters.in_flight == 0


def test_a_second_pass_is_a_fresh_scan(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(accounts=45)
    scan = _scan(connect(emu).call, page_size=10)
    first, again = _run(scan), _run(scan)
    assert first == again == emu.truth.accounts()
    assert scan.report.rows == 45


def test_only_the_first_page_and_the_final_check_ask_for_a_total(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=45)
    client = connect(emu)
    asked: list[tuple[int, int, bool]] = []

    def recording(service: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        asked.append((params["offset"], params["limit"], params.get("get_total") == 1))
        return client.call(service, method, params)

    _run(_scan(recording, page_size=10, concurrency=1))
    assert asked == [
        (0, 10, True),
        (5, 15, False),
        (15, 15, False),
        (25, 15, False),
        (35, 15, False),
        (0, 1, True),
    ]


def test_progress_ends_at_the_pages_done_when_the_list_shrank(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(accounts=100)
    before = emu.truth.accounts()
    seen: list[Progress] = []

    def record(progress: Progress) -> None:
        seen.append(progress)
        if progress.pages_done == 1:
            for row in before[50:]:
                emu.delete_account(row["i_account"])

    _run(_scan(connect(emu).call, page_size=10, concurrency=1, on_progress=record))
    assert seen[0].pages_expected == expected_pages(100, 10)
    assert seen[-1].pages_done == seen[-1].pages_expected < expected_pages(100, 10)
