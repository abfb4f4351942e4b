"""`xdrs_per_day`: a large operator's day, most xDRs in few customers, from the seed."""

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import date

import pytest

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.command import add_arguments, config_from
from tests.emulator.conftest import Api

MakeEmulator = Callable[..., Emulator]
DAYS = (date(2024, 1, 1), date(2024, 1, 2))
SHAPE = {"customers": 200, "accounts": 1000, "xdrs_per_day": 2001, "xdr_days": 2}


def _per_customer(emu: Emulator, day: date) -> Counter[int]:
    """xDRs billed on `day`, counted by the customer owning their account (ground truth)."""
    owner = {row["i_account"]: row["i_customer"] for row in emu.truth.accounts()}
    return Counter(owner[row["i_account"]] for row in emu.truth.xdrs(day))


def test_each_day_holds_exactly_the_asked_xdrs(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(**SHAPE)
    days = [emu.truth.xdrs(day) for day in DAYS]
    assert [len(xdrs) for xdrs in days] == [2001, 2001]
    assert len({row["i_xdr"] for xdrs in days for row in xdrs}) == 4002
    assert emu.truth.xdrs(date(2024, 1, 3)) == []


def test_one_percent_of_customers_hold_half_and_most_hold_none(
    make_emulator: MakeEmulator,
) -> None:
    counts = _per_customer(make_emulator(**SHAPE), DAYS[0])
    ranked = sorted(counts.values(), reverse=True)
    assert sum(ranked[:2]) == 1001  # 1% of 200 customers
    assert len(counts) == 2 + 18  # 9% share the rest; the other 180 hold none
    assert sum(ranked[2:]) == 1000


def test_the_shape_follows_the_seed(make_emulator: MakeEmulator) -> None:
    first, again = make_emulator(**SHAPE, seed=3), make_emulator(**SHAPE, seed=3)
    other = make_emulator(**SHAPE, seed=4)
    assert first.truth.xdrs(DAYS[1]) == again.truth.xdrs(DAYS[1])
    assert set(_per_customer(first, DAYS[0])) != set(_per_customer(other, DAYS[0]))


def test_customer_xdrs_pages_add_up_to_the_truth(
    make_emulator: MakeEmulator, make_api: Callable[[Emulator], Api]
) -> None:
    emu = make_emulator(**SHAPE)
    api = make_api(emu)
    api.login()
    window = {"from_date": "2024-01-02 00:00:00", "to_date": "2024-01-03 00:00:00"}
    truth = _per_customer(emu, DAYS[1])
    for i_customer in range(1, 201):
        answer = api.call(
            "Customer/get_customer_xdrs",
            {"i_customer": i_customer, **window, "limit": 10_000, "get_total": 1},
        )
        assert answer["total"] == len(answer["xdr_list"]) == truth.get(i_customer, 0)
        assert all(row["bill_time"].startswith("2024-01-02") for row in answer["xdr_list"])


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="xdrs_per_day"):
        EmulatorConfig(xdrs_per_day=-1)


def test_the_flag_sets_the_count_and_its_absence_keeps_xdrs_per_account() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from(parser.parse_args(["--xdrs-per-day", "500"])).xdrs_per_day == 500
    assert config_from(parser.parse_args([])).xdrs_per_day is None
