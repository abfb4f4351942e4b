"""FanOut against the emulator: one xDR scan per customer, merged, de-duplicated and counted."""

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from connector import FaultError
from connector.scan.fanout import FanOut
from connector.scan.paging import Progress

DAY = date(2024, 1, 2)
XDRS = ("Customer", "get_customer_xdrs", "xdr_list", "i_xdr")


def _day_params(i_customer: int, day: date = DAY) -> dict[str, Any]:
    """A customer's xDRs billed on `day` (UTC): `to_date` is exclusive."""
    return {
        "i_customer": i_customer,
        "from_date": f"{day:%Y-%m-%d} 00:00:00",
        "to_date": f"{day + timedelta(days=1):%Y-%m-%d} 00:00:00",
    }


def _customers(emu: Any) -> list[int]:
    return [row["i_customer"] for row in emu.truth.customers()]


def test_fan_out_over_customers_equals_the_days_xdrs(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=12, accounts=60, xdrs_per_account=8)
    params = [_day_params(c) for c in _customers(emu)]
    rows = [row for page in FanOut(connect(emu).call, *XDRS, params, page_size=7) for row in page]
    truth = emu.truth.xdrs(DAY)
    assert len(truth) > 0
    assert len(rows) == len(truth)
    assert {row["i_xdr"]: row for row in rows} == {row["i_xdr"]: row for row in truth}


def test_fan_out_report_adds_up_the_scans(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=12, accounts=60, xdrs_per_account=8)
    customers = _customers(emu)
    scans = FanOut(connect(emu).call, *XDRS, [_day_params(c) for c in customers], page_size=7)
    rows = [row for page in scans for row in page]
    report = scans.report
    assert report.requests == emu.counters.requests["Customer/get_customer_xdrs"]
    assert report.pages >= len(customers)
    assert report.rows == len(rows)
    assert report.total_before == len(emu.truth.xdrs(DAY))
    assert report.total_after is None
    assert (report.gaps_detected, report.rescans, report.extra_pages) == (0, 0, 0)


def test_fan_out_drops_keys_an_earlier_scan_yielded(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=4, accounts=20, xdrs_per_account=8)
    first = _customers(emu)[0]
    scans = FanOut(connect(emu).call, *XDRS, [_day_params(first)] * 3, page_size=5)
    rows = [row for page in scans for row in page]
    assert len(rows) == len({row["i_xdr"] for row in rows}) == scans.report.total_before // 3
    assert scans.report.duplicates_dropped >= 2 * len(rows)


def test_fan_out_runs_scans_in_parallel_within_the_concurrency(
    make_emulator: Any, connect: Any
) -> None:
    emu = make_emulator(customers=16, accounts=64, latency_s=0.01)
    params = [_day_params(c) for c in _customers(emu)]
    list(FanOut(connect(emu).call, *XDRS, params, page_size=50, concurrency=3))
    assert 2 <= emu.counters.max_in_flight <= 3


def test_fan_out_reports_progress_per_scan(make_emulator: Any, connect: Any, clock: Any) -> None:
    emu = make_emulator(customers=5, accounts=20)
    seen: list[Progress] = []

    def record(progress: Progress) -> None:
        seen.append(progress)
        clock.advance(1.0)

    params = [_day_params(c) for c in _customers(emu)]
    scans = FanOut(connect(emu).call, *XDRS, params, on_progress=record, clock=clock)
    list(scans)
    assert [(p.pages_done, p.pages_expected, p.elapsed_s) for p in seen] == [
        (1, 5, 0.0),
        (2, 5, 1.0),
        (3, 5, 2.0),
        (4, 5, 3.0),
        (5, 5, 4.0),
    ]
    assert seen[-1].rows == scans.report.rows


def test_fan_out_over_nothing_yields_nothing(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator()
    scans = FanOut(connect(emu).call, *XDRS, [])
    assert list(scans) == []
    assert scans.report.requests == 0


def test_stopping_early_cancels_the_scans_ahead(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=30, accounts=300, xdrs_per_account=8)
    params = [_day_params(c) for c in _customers(emu)]
    scans = FanOut(connect(emu).call, *XDRS, params, page_size=3, concurrency=2)
    first = next(scans)
    scans.close()
    served = emu.counters.requests["Customer/get_customer_xdrs"]
    assert len(first) == 3
    assert served < len(params)
    assert emu.counters.in_flight == 0


def test_a_failing_scan_fails_the_fan_out(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=4, accounts=20)
    params = [_day_params(c) for c in _customers(emu)]
    params[2] = {**params[2], "from_date": "yesterday"}
    with pytest.raises(FaultError):
        list(FanOut(connect(emu).call, *XDRS, params))


def _counted(call: Any, tally: Counter[int]) -> Any:
    """`call`, tallying the requests each customer cost."""

    def counting(service: str, method: str, params: dict[str, Any]) -> Any:
        tally[params["i_customer"]] += 1
        return call(service, method, params)

    return counting


def test_a_customer_without_xdrs_costs_one_request(make_emulator: Any, connect: Any) -> None:
    emu = make_emulator(customers=100, accounts=400, xdrs_per_day=3000, xdr_days=1)
    day, tally = date(2024, 1, 1), Counter[int]()
    params = [_day_params(c, day) for c in _customers(emu)]
    call = _counted(connect(emu).call, tally)
    rows = [
        row for page in FanOut(call, *XDRS, params, page_size=100, concurrency=4) for row in page
    ]
    owner = {row["i_account"]: row["i_customer"] for row in emu.truth.accounts()}
    holding = Counter(owner[row["i_account"]] for row in emu.truth.xdrs(day))
    assert len(rows) == sum(holding.values()) == 3000
    assert {c: tally[c] for c in tally if c not in holding} == dict.fromkeys(
        set(range(1, 101)) - set(holding), 1
    )
    assert all(tally[c] == holding[c] // 100 + 1 for c in holding)
