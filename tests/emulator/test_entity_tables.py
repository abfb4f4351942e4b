"""A table declared in a test is served over HTTP like the built-in entities."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.entity_tables import (
    DATETIME,
    EntityEvents,
    EntityTable,
    Equals,
    Pattern,
    Since,
)
from tests.emulator.conftest import Api


def _tariffs(config: EmulatorConfig) -> list[dict[str, Any]]:
    return [
        {
            "i_tariff": key,
            "name": f"Tariff {key}",
            "iso_4217": ("USD", "EUR")[key % 2],
            "effective_from": f"2024-01-{key:02d} 00:00:00",
        }
        for key in range(1, 8)
    ]


TARIFFS = EntityTable(
    "Tariff",
    "get_tariff_list",
    "tariff_list",
    "i_tariff",
    records=_tariffs,
    name="tariffs",
    info_method="get_tariff_info",
    info_key="tariff_info",
    filters=(Equals("iso_4217"), Pattern("name"), Since("from_date", "effective_from", DATETIME)),
    churn=lambda row, key: {**row, "name": f"Tariff {key}"},
    events=EntityEvents("Tariff", ("i_tariff",)),
)


@pytest.fixture
def make_tariff_emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(**config_fields: Any) -> Emulator:
        config = EmulatorConfig(release="current", **config_fields)
        started.append(Emulator(config, extra_tables=[TARIFFS]).start())
        return started[-1]

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def tariff_api(
    make_tariff_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> Api:
    caller = make_api(make_tariff_emulator())
    caller.login()
    return caller


def _pages(api: Api, size: int, **params: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    rows: list[dict[str, Any]] = []
    totals: list[Any] = []
    while True:
        page = {"limit": size, "offset": len(rows), "get_total": 1, **params}
        answer = api.call("Tariff/get_tariff_list", page)
        rows += answer["tariff_list"]
        totals.append(answer["total"])
        if len(answer["tariff_list"]) < size:
            return rows, totals


def test_paging_reads_back_every_row_once_with_the_total(tariff_api: Api) -> None:
    rows, totals = _pages(tariff_api, 3)
    assert rows == tariff_api.emulator.truth.table("tariffs")
    assert sorted(row["i_tariff"] for row in rows) == list(range(1, 8))
    assert set(totals) == {7}


def test_list_order_is_not_by_key(tariff_api: Api) -> None:
    keys = [row["i_tariff"] for row in tariff_api.call("Tariff/get_tariff_list")["tariff_list"]]
    assert keys != sorted(keys)


def test_total_only_when_asked_and_as_string_with_the_knob(
    make_tariff_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    api = make_api(make_tariff_emulator(total_as_string=True))
    api.login()
    assert "total" not in api.call("Tariff/get_tariff_list", {"limit": 1})
    assert api.call("Tariff/get_tariff_list", {"limit": 1, "get_total": 1})["total"] == "7"


def test_filters_select_before_paging(tariff_api: Api) -> None:
    euros, totals = _pages(tariff_api, 2, iso_4217="EUR")
    assert sorted(row["i_tariff"] for row in euros) == [1, 3, 5, 7]
    assert set(totals) == {4}
    named = tariff_api.call("Tariff/get_tariff_list", {"name": "%ff 2"})["tariff_list"]
    assert [row["i_tariff"] for row in named] == [2]
    recent = tariff_api.call("Tariff/get_tariff_list", {"from_date": "2024-01-06 00:00:00"})
    assert sorted(row["i_tariff"] for row in recent["tariff_list"]) == [6, 7]


def test_a_malformed_date_filter_is_a_fault(tariff_api: Api) -> None:
    code = tariff_api.fault("Tariff/get_tariff_list", {"from_date": "2024-01-06"})
    assert code == "Client.get_tariff_list.invalid_date"


def test_info_by_key_and_missing_key(tariff_api: Api) -> None:
    assert (
        tariff_api.call("Tariff/get_tariff_info", {"i_tariff": "4"})["tariff_info"]
        == (_tariffs(tariff_api.emulator.config)[3])
    )
    assert tariff_api.call("Tariff/get_tariff_info", {"i_tariff": 99}) == {}
    assert tariff_api.fault("Tariff/get_tariff_info") == "Client.get_tariff_info.invalid_param"


def test_injected_faults_and_counters_cover_declared_methods(
    make_tariff_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    emu = make_tariff_emulator(faulty_ids={"Tariff/get_tariff_info": {3}})
    api = make_api(emu)
    api.login()
    assert api.fault("Tariff/get_tariff_info", {"i_tariff": 3}) == "Server.internal_error"
    api.call("Tariff/get_tariff_list")
    assert emu.counters.requests["Tariff/get_tariff_list"] == 1
    assert emu.counters.requests["Tariff/get_tariff_info"] == 1


def test_killed_sessions_are_refused_on_declared_methods(tariff_api: Api) -> None:
    tariff_api.emulator.kill_sessions()
    assert tariff_api.fault("Tariff/get_tariff_list") == "Server.Session.check_auth.auth_failed"


def test_churn_shifts_a_live_list_and_truth_follows(
    make_tariff_emulator: Callable[..., Emulator], make_api: Callable[[Emulator], Api]
) -> None:
    emu = make_tariff_emulator(churn_per_page=2)
    api = make_api(emu)
    api.login()
    first = api.call("Tariff/get_tariff_list", {"get_total": 1})
    assert first["total"] == 7
    assert {row["i_tariff"] for row in first["tariff_list"]} != set(range(1, 8))
    assert first["tariff_list"] == emu.truth.table("tariffs")
    assert [e["event_type"] for e in emu.events] == ["Tariff/Created", "Tariff/Deleted"] * 2


def test_row_mutations_are_served_and_recorded(tariff_api: Api) -> None:
    emu = tariff_api.emulator
    created = emu.create_row("tariffs", name="Night", iso_4217="GBP")
    emu.update_row("tariffs", 2, name="Renamed")
    emu.delete_row("tariffs", 5)
    rows = tariff_api.call("Tariff/get_tariff_list")["tariff_list"]
    assert created == {"i_tariff": 8, "name": "Night", "iso_4217": "GBP"}
    assert created in rows and 5 not in {row["i_tariff"] for row in rows}
    assert {"i_tariff": 2} | {"name": "Renamed"} in [
        {"i_tariff": r["i_tariff"], "name": r["name"]} for r in rows
    ]
    assert emu.events == [
        {"event_type": f"Tariff/{action}", "variables": {"i_event": n, "i_tariff": key}}
        for n, (action, key) in enumerate((("Created", 8), ("Updated", 2), ("Deleted", 5)), 1)
    ]
    with pytest.raises(KeyError):
        emu.update_row("tariffs", 99, name="x")
