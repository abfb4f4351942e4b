"""The two child processes of `event_scale.py`, run against whichever `connector` is importable.

python benchmarks/event_scale_child.py setup '{"root": ..., "accounts": ...}'
python benchmarks/event_scale_child.py round '{"root": ..., "bodies": [...], ...}'

`event_scale.py` starts this file with PYTHONPATH pointing at the code under test (this tree, or
an older commit unpacked by `git archive`), so it imports only names both have. `setup` writes the
stored tables in that code's own layout; `round` applies one batch of events as the events asset
does and prints what it took. Each prints one JSON line.
"""

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from connector.store.memory import lean_allocators

lean_allocators()  # as definitions.py does, before pyarrow is loaded

import pyarrow as pa  # noqa: E402 (after the allocator settings)

import connector  # noqa: E402
from connector.api.client import PortaBillingClient  # noqa: E402
from connector.api.settings import ClientSettings  # noqa: E402
from connector.emulator import EmulatorConfig  # noqa: E402
from connector.emulator.records import decode  # noqa: E402
from connector.emulator.world import FIRST_ACCOUNT, World  # noqa: E402
from connector.entities import ACCOUNTS, BUILT_IN  # noqa: E402
from connector.events.store import EventStore  # noqa: E402
from connector.events.types import parse_event  # noqa: E402
from connector.store.arrowio import RecordConverter  # noqa: E402
from connector.store.tables import EVENTS, event_record  # noqa: E402
from connector.sync.refresh import apply_batch  # noqa: E402

PAGE = 10_000  # records converted and written at a time
RUN_ID = "event-scale-round"
EVENT_TYPE = "Subscriber/Updated"
PLAIN = "parquet"


def open_store(root: str, table_format: str) -> Any:
    """The tables of the code under test: `open_tables` where it exists, else the plain store."""
    try:
        from connector.store.backend import open_tables
    except ImportError:  # the code before issue 19 knows one format only
        if table_format != PLAIN:
            raise SystemExit(f"this code has no table format {table_format!r}") from None
        from connector.store.storage import TableStore

        return TableStore(root)
    return open_tables(root, table_format)


def setup(job: dict[str, Any]) -> dict[str, Any]:
    """Write the accounts table and the stored events; what each took and its size on disk."""
    store = open_store(job["root"], job["table_format"])
    started = time.monotonic()
    write_accounts(store, job)
    accounts_s = time.monotonic() - started
    events_layout = write_events(store, job)
    return {
        "accounts_s": round(accounts_s, 1),
        "events_s": round(time.monotonic() - started - accounts_s, 1),
        "events_layout": events_layout,
        "accounts_bytes": folder_bytes(store.table_uri(ACCOUNTS.name)),
        "events_bytes": folder_bytes(store.table_uri(EVENTS.name)),
        "connector": os.path.dirname(connector.__file__),
    }


def write_accounts(store: Any, job: dict[str, Any]) -> None:
    """Every account the emulator serves, as its record factory builds them, in one publish."""
    world = World(emulator_config(job))
    converter = RecordConverter(ACCOUNTS.table)
    extracted_at = datetime.now(UTC)
    with store.writer(ACCOUNTS.table) as writer:
        for offset in range(0, job["accounts"], PAGE):
            records, _ = world.account_page(offset, PAGE)
            writer.write(converter.to_batch([decode(r) for r in records], extracted_at))


def emulator_config(job: dict[str, Any]) -> EmulatorConfig:
    """The emulator's data shape; `event_scale.py` serves the same one."""
    return EmulatorConfig(accounts=job["accounts"], customers=job["customers"], seed=job["seed"])


def write_events(store: Any, job: dict[str, Any]) -> str:
    """The stored events: appended day by day then compacted, or one table where no `append`."""
    days = [date.fromisoformat(job["first_day"]) + timedelta(days=n) for n in range(job["days"])]
    if hasattr(store, "append"):
        for day in days:
            rows = pa.Table.from_batches(list(event_batches(day, job)))
            store.append(EVENTS, rows, "received_at")
        store.maintain(EVENTS.name)
        return "append per day, then maintain"
    with store.writer(EVENTS) as writer:
        for day in days:
            for batch in event_batches(day, job):
                writer.write(batch)
    return "one table (writer)"


def event_batches(day: date, job: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """A day's events, spread evenly over it, each naming an account (ids follow on by day)."""
    per_day, accounts = job["per_day"], job["accounts"]
    first = (day - date.fromisoformat(job["first_day"])).days * per_day + 1
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = timedelta(seconds=86400 / per_day)
    converter = RecordConverter(EVENTS)
    extracted_at = datetime.now(UTC)
    for offset in range(0, per_day, PAGE):
        records = [
            event_record(
                EVENT_TYPE,
                {"i_event": first + n, "i_account": FIRST_ACCOUNT + (first + n) * 7919 % accounts},
                start + n * step,
            )
            for n in range(offset, min(offset + PAGE, per_day))
        ]
        yield converter.to_batch(records, extracted_at)


def folder_bytes(uri: str) -> int:
    """Bytes of every file under a table's local folder (a path or a file:// URI)."""
    folder = urlparse(uri).path if uri.startswith("file:") else uri
    if not os.path.isdir(folder):
        raise RuntimeError(f"no table folder at {uri}")
    return sum(
        os.path.getsize(os.path.join(path, name))
        for path, _, names in os.walk(folder)
        for name in names
    )


def round_(job: dict[str, Any]) -> dict[str, Any]:
    """Store the batch's events in a fresh event store, claim them, and time `apply_batch`."""
    store = open_store(job["root"], job["table_format"])
    received_at = datetime.fromisoformat(job["received_at"])
    events = [parse_event(body, received_at, BUILT_IN.routing()) for body in job["bodies"]]
    settings = ClientSettings(max_concurrency=job["concurrency"])
    client = PortaBillingClient(
        job["url"], login=job["login"], password=job["password"], settings=settings
    )
    with tempfile.TemporaryDirectory() as folder, EventStore(f"{folder}/events.db") as pending:
        pending.add_many(events)
        batch = pending.claim_pending(RUN_ID)
        rss_before = current_rss()
        with client:
            started = time.monotonic()
            # BUILT_IN: what `build_defs` passes when no window variable is set.
            applied = apply_batch(client, store, pending, batch, BUILT_IN, job["concurrency"])
            seconds = time.monotonic() - started
        pending.complete(RUN_ID)
    return {
        "apply_s": round(seconds, 3),
        "peak_rss": peak_rss(),
        "rss_before_apply": rss_before,
        "events_applied": applied.events,
        "dead": len(applied.dead),
        "updated": {name: change.updated for name, change in applied.tables.items()},
        "connector": os.path.dirname(connector.__file__),
    }


def peak_rss() -> int:
    """This process's peak resident bytes since it started its program.

    Not `getrusage`'s `ru_maxrss`: it keeps the high-water mark of the forked copy of the parent
    (here the driver, holding a 10M-account emulator: 600 MB) across `exec`. `VmHWM` is reset.
    """
    with open("/proc/self/status") as status:
        [line] = [line for line in status if line.startswith("VmHWM:")]
    return int(line.split()[1]) * 1024


def current_rss() -> int:
    """Resident bytes of this process now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    command, job = sys.argv[1], json.loads(sys.argv[2])
    result = {"setup": setup, "round": round_}[command](job)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
