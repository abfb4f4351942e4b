"""Requests in flight to one server stay under one limit across threads, processes and runs."""

import multiprocessing
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from connector.api.errors import ConfigurationError
from connector.api.limits import ServerSlots
from connector.store.storage import TableStore
from tests.scaleout.runs import materialize_xdr_day

REPO = Path(__file__).resolve().parents[2]
URL = "http://pb.example.com"
MAX_IN_FLIGHT = 5
DAYS = [(date(2024, 1, 1) + timedelta(days=i)).isoformat() for i in range(7)]

# Holds every slot of a server until its stdin closes.
HOLDER_SCRIPT = textwrap.dedent(
    """
    import contextlib, sys
    from connector.api.limits import ServerSlots

    slots = ServerSlots(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    with contextlib.ExitStack() as stack:
        for _ in range(slots.limit):
            stack.enter_context(slots.hold())
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_slot_taken_by_another_process_waits_for_it(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, URL, "2", str(tmp_path / "state")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    got_one = threading.Event()

    def take() -> None:
        with ServerSlots(URL, 2, str(tmp_path / "state")).hold():
            got_one.set()

    waiter = threading.Thread(target=take)
    waiter.start()
    try:
        assert not got_one.wait(0.5), "took a slot another process holds"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    waiter.join(timeout=30)
    assert got_one.is_set()


def test_slots_of_other_servers_are_independent(tmp_path):
    state = str(tmp_path / "state")
    other = ServerSlots("http://other.example.com", 1, state)
    with ServerSlots(URL, 1, state).hold(), other.hold():
        pass


def test_slot_folders_are_private(tmp_path):
    ServerSlots(URL, 1, str(tmp_path / "state"))
    for folder in (tmp_path / "state", tmp_path / "state" / "slots"):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_a_state_folder_open_to_others_is_refused(tmp_path):
    (tmp_path / "state").mkdir(mode=0o755)
    (tmp_path / "state").chmod(0o755)
    with pytest.raises(ConfigurationError, match="open to other users"):
        ServerSlots(URL, 1, str(tmp_path / "state"))


def test_parallel_seven_day_backfill_stays_under_the_limit(
    make_emulator, point_env, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    emulator = make_emulator(
        customers=16, accounts=160, xdrs_per_account=4, xdr_days=7, seed=3, latency_s=0.02
    )
    point_env(emulator, str(tmp_path / "data"))
    monkeypatch.setenv("PORTABILLING_PAGE_SIZE", "5")
    monkeypatch.setenv("PORTABILLING_MAX_CONCURRENCY", "8")
    monkeypatch.setenv("PORTABILLING_MAX_IN_FLIGHT", str(MAX_IN_FLIGHT))
    monkeypatch.setenv("PORTABILLING_STATE_DIR", str(tmp_path / "state"))

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        assert all(pool.map(materialize_xdr_day, DAYS))

    assert 1 < emulator.counters.max_in_flight <= MAX_IN_FLIGHT
    store = TableStore(str(tmp_path / "data"))
    for day in DAYS:
        rows = store.read("xdrs", day)
        truth = emulator.truth.xdrs(date.fromisoformat(day))
        assert rows is not None and rows.num_rows == len(truth)
