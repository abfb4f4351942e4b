"""Soak: ESPF-like traffic for minutes, with bad events, idle sockets and receiver kills.

    python benchmarks/soak.py [--duration 600] [--rate 200] [--bad 0.01] [--idle 500] [--kills 2]

Three processes, all on loopback:
- this one sends events as ESPF does: paced at `--rate`/s over 20 keep-alive connections, every
  event retried (after 1 s) until it gets an answer other than "try again"; a share `--bad` of
  the events is malformed (400 expected, never stored) or poison (accepted, then fails when applied:
  its account's `get_account_info` faults). It also holds `--idle` idle TCP connections open
  (reopening each one the receiver drops) and SIGKILLs the receiver `--kills` times, restarting it
  on the same port and store.
- the receiver, `portabilling webhook`, restarted after each kill;
- the applier: the bundled emulator plus the project's events job run every `--interval` s, as the
  sensor would launch it, and once more at the end until nothing is pending.

Prints what was sent, acknowledged (200), rejected (400), applied (rows in the events table),
dead-lettered and lost (acknowledged but neither applied nor dead-lettered: must be 0), duplicate
event rows (must be 0) and the latency of the 200 answers (per attempt, and from first send to
acknowledgement). Exit 0 only when nothing was lost, duplicated or wrongly answered.
"""

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "espf", "soak-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
FIRST_ACCOUNT, ACCOUNTS, CUSTOMERS = 1000, 2000, 50
POISON_ACCOUNTS = (1013, 1777)  # their get_account_info faults: events naming them dead-letter
CONNECTIONS = 20
RETRY_S = 1.0
MALFORMED = (  # bodies a careless or hostile sender might post; each must get 400
    b'{"event_type": "Subscriber/Updated", "variables": {"i_event": ',
    b'{"event_type":"Customer/Updated","variables":{"i_event":%d,"i_customer":1,'
    b'"i_account":"not-a-number"}}',
    b'{"event_type":"Foo/\\ud800","variables":{"i_event":%d}}',
    b'{"event_type":"Subscriber/Updated","variables":{"i_event":%d,"i_account":NaN}}',
    b'{"event_type":"Subscriber/Updated","variables":{"i_account":1001}}',
)


@dataclass
class Tally:
    """What the sender saw."""

    sent: int = 0
    acknowledged: set[int] = field(default_factory=set)
    poison_acknowledged: set[int] = field(default_factory=set)
    rejected: int = 0
    wrong: list[str] = field(default_factory=list)
    retries: int = 0
    attempt_latency: list[float] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    idle_reopened: int = 0


def kind_of(i_event: int, bad: float) -> tuple[str, int]:
    """`valid`, `malformed` or `poison` (spread evenly through the stream), and a bad one's rank."""
    every = round(1 / bad) if bad else 0
    if every and i_event % every == 0:
        rank = i_event // every
        return ("poison" if rank % 2 else "malformed"), rank // 2
    return "valid", 0


def body_of(i_event: int, kind: str, rank: int) -> bytes:
    """The JSON body of an event; malformed and poison ones cycle through their variants."""
    if kind == "malformed":
        template = MALFORMED[rank % len(MALFORMED)]
        return template % i_event if b"%d" in template else template
    if kind == "poison":
        account = POISON_ACCOUNTS[rank % len(POISON_ACCOUNTS)]
        variables = {"i_event": i_event, "i_account": account}
        return json.dumps({"event_type": "Subscriber/Updated", "variables": variables}).encode()
    if i_event % 10 == 0:
        customer = i_event % CUSTOMERS + 1
        variables = {"i_event": i_event, "i_customer": str(customer)}
        return json.dumps({"event_type": "Customer/Updated", "variables": variables}).encode()
    account = FIRST_ACCOUNT + i_event % ACCOUNTS
    if account in POISON_ACCOUNTS:
        account += 1
    variables = {"i_event": i_event, "i_account": account, "password": "never-stored"}
    return json.dumps({"event_type": "Subscriber/Updated", "variables": variables}).encode()


async def post(url: str, body: bytes, timeout_s: float) -> int | None:
    """One POST on a fresh connection: the status, or None when the receiver is unreachable."""
    address = urlsplit(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address.hostname, address.port), timeout_s
        )
    except (OSError, TimeoutError):
        return None
    head = (
        f"POST /events HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTHORIZATION}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    )
    try:
        writer.write(head.encode() + body)
        status_line = await asyncio.wait_for(reader.readline(), timeout_s)
        await asyncio.wait_for(reader.read(), timeout_s)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()
    match = re.match(rb"HTTP/1\.1 (\d{3})", status_line)
    return int(match.group(1)) if match else None


async def deliver(url: str, i_event: int, bad: float, tally: Tally, stop_at: float) -> None:
    """Send one event as ESPF would: retry until a final answer (or the soak's end)."""
    first = time.perf_counter()
    kind, rank = kind_of(i_event, bad)
    body = body_of(i_event, kind, rank)
    tally.sent += 1
    while True:
        started = time.perf_counter()
        status = await post(url, body, timeout_s=10.0)
        if status == 200:
            tally.attempt_latency.append(time.perf_counter() - started)
            tally.ack_latency.append(time.perf_counter() - first)
            (tally.poison_acknowledged if kind == "poison" else tally.acknowledged).add(i_event)
            if kind == "malformed":
                tally.wrong.append(f"malformed event {i_event} got 200")
            return
        if status == 400:
            tally.rejected += 1
            if kind != "malformed":
                tally.wrong.append(f"{kind} event {i_event} got 400")
            return
        if time.monotonic() > stop_at:
            tally.wrong.append(f"event {i_event} never acknowledged (last answer {status})")
            return
        tally.retries += 1
        await asyncio.sleep(RETRY_S)  # ESPF's own retry pause, not waiting for the system


async def send_stream(url: str, args: argparse.Namespace, tally: Tally) -> None:
    """Paced at `rate`/s; each event is delivered (with retries) by its own task."""
    start = time.perf_counter()
    stop_at = time.monotonic() + args.duration + 120
    tasks: set[asyncio.Task[None]] = set()
    gate = asyncio.Semaphore(CONNECTIONS * 10)
    total = int(args.rate * args.duration)
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / args.rate - time.perf_counter()))  # pacing
        i_event = n + 1
        await gate.acquire()
        task = asyncio.create_task(deliver(url, i_event, args.bad, tally, stop_at))
        task.add_done_callback(lambda t: (tasks.discard(t), gate.release()))
        tasks.add(task)
    await asyncio.gather(*tasks)


async def hold_idle(url: str, count: int, until: float, tally: Tally) -> None:
    """Keep `count` idle connections open, reopening each one the receiver closes or loses."""
    address = urlsplit(url)

    async def one() -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(address.hostname, address.port)
            except OSError:
                await asyncio.sleep(0.5)  # the receiver is being restarted
                continue
            with suppress(OSError, TimeoutError):
                await asyncio.wait_for(reader.read(), max(0.1, until - time.monotonic()))
            writer.close()
            tally.idle_reopened += 1

    await asyncio.gather(*(one() for _ in range(count)))


class Receiver:
    """`portabilling webhook` on a fixed port, killed and restarted on demand."""

    def __init__(self, port: int, db: str) -> None:
        self.port, self.db = port, db
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PORTABILLING_WEBHOOK_USER": USER,
            "PORTABILLING_WEBHOOK_PASSWORD": PASSWORD,
        }
        argv = [sys.executable, "-m", "connector.commands.cli", "webhook"]
        argv += ["--port", str(self.port), "--db", self.db]
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        if "/events" not in self.process.stdout.readline():
            raise RuntimeError("the receiver did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


async def kill_and_restart(receiver: Receiver, args: argparse.Namespace) -> None:
    for k in range(args.kills):
        await asyncio.sleep(args.duration * (k + 1) / (args.kills + 1))  # when to strike
        receiver.kill()
        await asyncio.to_thread(receiver.start)


async def drive(receiver: Receiver, args: argparse.Namespace) -> Tally:
    tally = Tally()
    until = time.monotonic() + args.duration
    await asyncio.gather(
        send_stream(receiver.url, args, tally),
        hold_idle(receiver.url, args.idle, until, tally),
        kill_and_restart(receiver, args),
    )
    return tally


@contextmanager
def applier(work: Path, db: str, interval: float) -> Iterator[subprocess.Popen[str]]:
    """The emulator and the events job, in a process of their own."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--applier", str(work), db]
    argv += ["--interval", str(interval)]
    with open(work / "applier.log", "w") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def run_applier(work: Path, db: str, interval: float) -> int:
    """Applier process: snapshot once, then the events job every `interval` s until told to stop."""
    import dagster as dg

    from connector.dagster_defs.project import EVENTS_JOB, SNAPSHOT_JOB, build_defs
    from connector.emulator import Emulator, EmulatorConfig
    from connector.events.store import EventStore

    config = EmulatorConfig(
        customers=CUSTOMERS,
        accounts=ACCOUNTS,
        xdrs_per_account=0,
        faulty_ids={"Account/get_account_info": set(POISON_ACCOUNTS)},
    )
    with Emulator(config) as emu, dg.instance_for_test() as instance:
        os.environ.update(
            PORTABILLING_URL=emu.url,
            PORTABILLING_LOGIN=emu.login,
            PORTABILLING_PASSWORD=emu.password,
            PORTABILLING_DATA_DIR=str(work / "data"),
            PORTABILLING_EVENTS_DB=db,
        )
        defs = build_defs()
        defs.resolve_job_def(SNAPSHOT_JOB).execute_in_process(instance=instance)
        runs = failed = 0
        stop_file = work / "stop"
        while True:
            stopping = stop_file.exists()
            with EventStore(db) as store:
                pending = store.pending_summary().count
            if pending:
                result = defs.resolve_job_def(EVENTS_JOB).execute_in_process(
                    instance=instance, raise_on_error=False
                )
                runs += 1
                failed += not result.success
            elif stopping:
                break
            if not stopping:
                time.sleep(interval)  # the sensor's interval between runs
        print(json.dumps({"runs": runs, "failed_runs": failed}), flush=True)
    return 0


def report(
    tally: Tally, work: Path, db: str, applier_out: dict[str, int], args: argparse.Namespace
) -> bool:
    """Print the figures; True when nothing was lost, duplicated or wrongly answered."""
    import pyarrow.dataset as ds

    from connector.events.store import EventStore

    rows = ds.dataset(work / "data" / "events", partitioning="hive").to_table(columns=["i_event"])
    in_table = rows["i_event"].to_pylist()
    with EventStore(db) as store:
        counts = store.counts()
        dead = {e.i_event for e in store.dead_letters()}
    applied = set(in_table)
    lost = tally.acknowledged - applied - dead
    lost_poison = tally.poison_acknowledged - dead - applied
    duplicates = len(in_table) - len(applied)
    secret_in_store = any(
        b"never-stored" in p.read_bytes() for p in Path(db).parent.glob("*.sqlite3*")
    )

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average at the end: {load}"
    )
    print(
        f"{args.duration:.0f} s at {args.rate:.0f} events/s, {args.bad:.1%} bad, "
        f"{args.idle} idle sockets, {args.kills} receiver SIGKILLs, events job every "
        f"{args.interval:.0f} s ({applier_out.get('runs', 0)} runs, "
        f"{applier_out.get('failed_runs', 0)} failed)\n"
    )
    figures = [
        ("events sent", tally.sent),
        ("acknowledged (200), valid", len(tally.acknowledged)),
        ("acknowledged (200), poison", len(tally.poison_acknowledged)),
        ("rejected (400), malformed", tally.rejected),
        ("retries after no answer / 5xx", tally.retries),
        ("idle sockets reopened after the receiver dropped them", tally.idle_reopened),
        ("applied (rows in the events table)", len(applied)),
        ("dead-lettered", len(dead)),
        ("store states at the end", json.dumps(counts, sort_keys=True)),
        (
            "**lost** (acknowledged, neither applied nor dead-lettered)",
            len(lost) + len(lost_poison),
        ),
        ("duplicate rows in the events table", duplicates),
        ("secret variable found in the store files", secret_in_store),
        ("wrong answers", len(tally.wrong)),
        (
            "p50 / p99 / max ms, one attempt answered 200",
            f"{p(tally.attempt_latency, 0.5):.1f} / {p(tally.attempt_latency, 0.99):.1f} / "
            f"{p(tally.attempt_latency, 1):.1f}",
        ),
        (
            "p50 / p99 / max ms, first send to 200 (retries included)",
            f"{p(tally.ack_latency, 0.5):.1f} / {p(tally.ack_latency, 0.99):.1f} / "
            f"{p(tally.ack_latency, 1):.1f}",
        ),
    ]
    print("| figure | value |\n| --- | --- |")
    for name, value in figures:
        print(f"| {name} | {value} |")
    for line in tally.wrong[:10]:
        print(f"wrong: {line}")
    return not (lost or lost_poison or duplicates or tally.wrong or secret_in_store)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--bad", type=float, default=0.01, help="share of malformed/poison events")
    parser.add_argument("--idle", type=int, default=500, help="idle sockets held open")
    parser.add_argument("--kills", type=int, default=2, help="receiver SIGKILLs")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between event runs")
    parser.add_argument("--applier", nargs=2, metavar=("WORK", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.applier:
        return run_applier(Path(args.applier[0]), args.applier[1], args.interval)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.idle + 1024)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "store").mkdir(mode=0o700)
        db = str(work / "store" / "events.sqlite3")
        receiver = Receiver(free_port(), db)
        receiver.start()
        try:
            with applier(work, db, args.interval) as process:
                tally = asyncio.run(drive(receiver, args))
                (work / "stop").touch()
                assert process.stdout is not None
                applier_out = json.loads(process.stdout.read().strip().splitlines()[-1])
        finally:
            receiver.stop()
        return 0 if report(tally, work, db, applier_out, args) else 1


if __name__ == "__main__":
    sys.exit(main())
