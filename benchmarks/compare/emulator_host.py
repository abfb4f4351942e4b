"""Child process: serve the bundled emulator; answer `counters` / `reset` lines on stdin.

The emulator runs here, in its own process, so it never shares a GIL with a contender. The
harness reads request counts through this pipe instead of a change to the emulator.
"""

import json
import sys

from connector.emulator import Emulator, EmulatorConfig


def _answer(emulator: Emulator, command: str) -> dict[str, object]:
    if command == "reset":
        emulator.reset_counters()
        return {"ok": True}
    counters = emulator.counters
    return {
        "total_requests": counters.total_requests,
        "requests": dict(counters.requests),
        "logins": counters.logins,
        "max_in_flight": counters.max_in_flight,
    }


def main() -> None:
    """Serve `accounts` accounts with `latency_ms` added per request until stdin closes."""
    accounts, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    config = EmulatorConfig(accounts=accounts, xdrs_per_account=0, latency_s=latency_ms / 1000)
    with Emulator(config) as emulator:
        print(json.dumps({"url": emulator.url}), flush=True)
        for line in sys.stdin:
            print(json.dumps(_answer(emulator, line.strip())), flush=True)


if __name__ == "__main__":
    main()
