"""`portabilling dev --live`: the emulator changes accounts and customers, delivers ESPF events."""

import random
import threading

from connector.emulator.emulator import Emulator
from connector.emulator.events import WebhookAuth

LIVE_INTERVAL_S = 3.0


def change_something(emulator: Emulator, rng: random.Random) -> str:
    """One account's balance changes, and now and then a customer's; what changed, in words."""
    accounts = [record["i_account"] for record in emulator.truth.accounts()]
    i_account = rng.choice(accounts)
    balance = round(rng.uniform(0, 100), 2)
    emulator.update_account(i_account, balance=balance)
    if rng.random() < 0.3:
        i_customer = rng.choice([record["i_customer"] for record in emulator.truth.customers()])
        emulator.update_customer(i_customer, balance=round(rng.uniform(0, 1000), 2))
    return f"account {i_account}: balance {balance}"


def run_live(
    emulator: Emulator,
    events_url: str,
    auth: WebhookAuth,
    stopping: threading.Event,
    interval_s: float = LIVE_INTERVAL_S,
) -> None:
    """Every `interval_s` until `stopping`: change something, deliver the events to the receiver."""
    rng = random.Random(emulator.config.seed)
    while not stopping.wait(interval_s):
        changed = change_something(emulator, rng)
        report = emulator.deliver_events(events_url, auth)
        print(f"live: {changed}; {report.acknowledged} events delivered", flush=True)


def start_live(
    emulator: Emulator, events_url: str, auth: WebhookAuth, stopping: threading.Event
) -> threading.Thread:
    """`run_live` on a daemon thread."""
    thread = threading.Thread(
        target=run_live, args=(emulator, events_url, auth, stopping), name="live", daemon=True
    )
    thread.start()
    return thread
