"""The small pieces of paging: totals, page plan, boundary links, report and progress arithmetic."""

from collections.abc import Callable

import pytest

from connector.api.errors import ConfigurationError
from connector.scan.keyset import key_array
from connector.scan.paging import (
    ListScan,
    PagingError,
    Progress,
    ScanReport,
    _Window,
    default_overlap,
    expected_pages,
    page_bounds,
    parse_total,
)


def _window(keys: list[int], limit: int) -> _Window:
    return _Window(0, limit, [{"i_account": k} for k in keys], key_array(keys), None)


def _no_call(service: str, method: str, params: dict) -> dict:
    raise AssertionError("no request expected")


@pytest.mark.parametrize(
    ("raw", "total"), [(12, 12), ("12", 12), (" 7 ", 7), ("0", 0), (None, None)]
)
def test_parse_total_reads_numbers_and_strings(raw: object, total: int | None) -> None:
    assert parse_total(raw) == total


@pytest.mark.parametrize("raw", ["twelve", "-1", 1.5, True, [3]])
def test_parse_total_refuses_what_is_not_a_count(raw: object) -> None:
    with pytest.raises(PagingError, match="unreadable total"):
        parse_total(raw)


@pytest.mark.parametrize(("page_size", "overlap"), [(1000, 20), (500, 10), (100, 5), (3, 3)])
def test_default_overlap_is_two_percent_at_least_five_at_most_the_page(
    page_size: int, overlap: int
) -> None:
    assert default_overlap(page_size) == overlap


@pytest.mark.parametrize(
    ("total", "pages"), [(None, 1), (0, 1), (19, 1), (20, 2), (999, 50), (1000, 51)]
)
def test_expected_pages_include_the_short_page_that_proves_the_end(
    total: int | None, pages: int
) -> None:
    assert expected_pages(total, 20) == pages


def test_page_bounds_reach_back_by_the_overlap_after_the_first_page() -> None:
    assert page_bounds(0, 100, 5) == (0, 100)
    assert page_bounds(1, 100, 5) == (95, 105)
    assert page_bounds(7, 100, 5) == (695, 105)


def test_windows_sharing_a_key_are_linked() -> None:
    assert _window([1, 2, 3], 3).is_linked_to(_window([3, 4, 5], 3))


def test_windows_without_common_key_are_not_linked() -> None:
    assert not _window([1, 2, 3], 3).is_linked_to(_window([4, 5, 6], 3))
    assert not _window([], 3).is_linked_to(_window([], 3))


def test_a_window_with_fewer_rows_than_asked_is_short() -> None:
    assert _window([1, 2], 3).is_short
    assert not _window([1, 2, 3], 3).is_short


def test_report_as_dict_names_every_counter() -> None:
    report = ScanReport(requests=3, rows=10, total_before=10, total_after=11)
    assert report.as_dict() == {
        "requests": 3,
        "pages": 0,
        "rows": 10,
        "duplicates_dropped": 0,
        "total_before": 10,
        "total_after": 11,
        "gaps_detected": 0,
        "gaps_repaired": 0,
        "rescans": 0,
        "extra_pages": 0,
    }


def test_report_absorb_adds_counters_and_totals() -> None:
    report = ScanReport(requests=1, rows=5, total_before=5, total_after=0, gaps_detected=1)
    report.absorb(ScanReport(requests=2, rows=7, total_before=7, total_after=8, rescans=3))
    assert (report.requests, report.rows, report.gaps_detected, report.rescans) == (3, 12, 1, 3)
    assert (report.total_before, report.total_after) == (12, 8)


def test_report_absorb_forgets_a_total_one_scan_did_not_know() -> None:
    report = ScanReport(total_before=5)
    report.absorb(ScanReport(total_before=None))
    report.absorb(ScanReport(total_before=3))
    assert report.total_before is None


def test_progress_rate_and_eta() -> None:
    progress = Progress(pages_done=4, pages_expected=10, rows=4000, elapsed_s=2.0)
    assert progress.rows_per_s == 2000.0
    assert progress.eta_s == 3.0


def test_progress_has_no_eta_before_time_passes() -> None:
    assert Progress(pages_done=0, pages_expected=10, rows=0, elapsed_s=0.0).eta_s is None
    assert Progress(pages_done=1, pages_expected=10, rows=5, elapsed_s=0.0).rows_per_s == 0.0


@pytest.mark.parametrize(
    "options",
    [
        {"page_size": 0},
        {"concurrency": 0},
        {"overlap": 0},
        {"page_size": 10, "overlap": 11},
        {"max_pages": 0},
        {"max_repair_steps": 0},
    ],
)
def test_list_scan_refuses_settings_that_cannot_work(options: dict) -> None:
    with pytest.raises(ConfigurationError):
        ListScan(_no_call, "Account", "get_account_list", "account_list", "i_account", **options)


def _answer(*keys: object) -> Callable[[str, str, dict], dict]:
    def call(service: str, method: str, params: dict) -> dict:
        return {"account_list": [{"i_account": key} for key in keys], "total": len(keys)}

    return call


def test_a_row_key_sent_as_text_is_the_same_key() -> None:
    call = _answer(1, "1", " 2")
    scan = ListScan(call, "Account", "get_account_list", "account_list", "i_account")
    rows = [row for page in scan.pages() for row in page]
    assert [row["i_account"] for row in rows] == [1, " 2"]
    assert scan.report.duplicates_dropped == 1


@pytest.mark.parametrize(
    ("key", "message"), [(2**64, "does not fit in 64 bits"), ("x", "no integer 'i_account'")]
)
def test_a_row_key_that_is_no_int64_is_a_paging_error(key: object, message: str) -> None:
    scan = ListScan(_answer(1, key), "Account", "get_account_list", "account_list", "i_account")
    with pytest.raises(PagingError, match=message):
        list(scan.pages())
