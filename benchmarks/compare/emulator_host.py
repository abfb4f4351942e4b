"""Child process: serve the bundled emulator; answer `counters` / `reset` lines on stdin.

The emulator runs here, in its own process, so it never shares a GIL with a contender. The
harness reads request counts through this pipe instead of a change to the emulator; `xdr_calls`
answers how many `Customer/get_customer_xdrs` calls each customer got since the last reset, and
`xdr_holders` which customers hold xDRs on the window's first day.
"""

import json
import sys
from collections import Counter

from connector.emulator import Emulator, EmulatorConfig
from connector.emulator.world import Page


class XdrCalls:
    """Counts the emulator's per-customer xDR reads (one per request that reached the method)."""

    def __init__(self, emulator: Emulator) -> None:
        self.by_customer: Counter[int] = Counter()
        world = emulator._world  # the harness's own probe; the emulator keeps no such tally
        read = world.customer_xdrs

        def counted(
            i_customer: int, start: int | None, end: int | None, offset: int, limit: int | None
        ) -> Page:
            self.by_customer[i_customer] += 1
            return read(i_customer, start, end, offset, limit)

        world.customer_xdrs = counted  # type: ignore[method-assign]


def _xdr_holders(emulator: Emulator) -> list[int]:
    """Customers holding xDRs billed on the first day of the window, from the ground truth."""
    owner = {row["i_account"]: row["i_customer"] for row in emulator.truth.accounts()}
    xdrs = emulator.truth.xdrs(emulator.config.xdr_start)
    return sorted({owner[row["i_account"]] for row in xdrs})


def _answer(emulator: Emulator, calls: XdrCalls, command: str) -> dict[str, object]:
    if command == "reset":
        emulator.reset_counters()
        calls.by_customer.clear()
        return {"ok": True}
    if command == "xdr_calls":
        return {str(customer): n for customer, n in calls.by_customer.items()}
    if command == "xdr_holders":
        return {"customers": _xdr_holders(emulator)}
    counters = emulator.counters
    return {
        "total_requests": counters.total_requests,
        "requests": dict(counters.requests),
        "logins": counters.logins,
        "max_in_flight": counters.max_in_flight,
    }


def main() -> None:
    """Serve `accounts` accounts with `latency_ms` per request until stdin closes.

    A third argument, a JSON object, sets further `EmulatorConfig` fields.
    """
    accounts, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    more = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    config = EmulatorConfig(
        accounts=accounts, xdrs_per_account=0, latency_s=latency_ms / 1000, **more
    )
    with Emulator(config) as emulator:
        calls = XdrCalls(emulator)
        print(json.dumps({"url": emulator.url}), flush=True)
        for line in sys.stdin:
            print(json.dumps(_answer(emulator, calls, line.strip())), flush=True)


if __name__ == "__main__":
    main()
