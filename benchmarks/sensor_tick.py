"""How long one evaluation of `portabilling_events_sensor` takes with a large backlog.

python benchmarks/sensor_tick.py [--pending 100000]

Fills a fresh event store with `--pending` events over 5,000 accounts, then evaluates the
project's sensor (as the daemon would, against a test instance) and prints the seconds per tick.
"""

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime

import dagster as dg

from connector.dagster_defs.project import build_defs
from connector.dagster_defs.resources import EventStoreResource
from connector.dagster_defs.sensors import SENSOR_NAME
from connector.events.store import EventStore
from connector.events.types import parse_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, dg.instance_for_test() as instance:
        path = os.path.join(work, "events.sqlite3")
        now = datetime.now(UTC)
        with EventStore(path) as store:
            store.add_many(
                parse_event(
                    {
                        "event_type": "Subscriber/Updated",
                        "variables": {"i_event": i, "i_account": 1000 + i % 5000},
                    },
                    now,
                )
                for i in range(1, args.pending + 1)
            )
        [sensor] = [s for s in build_defs().sensors if s.name == SENSOR_NAME]
        timings = []
        for _ in range(3):
            context = dg.build_sensor_context(
                instance=instance, resources={"events_store": EventStoreResource(path=path)}
            )
            started = time.perf_counter()
            result = sensor(context)
            timings.append(time.perf_counter() - started)
            assert isinstance(result, dg.SensorResult), result
    print(
        f"{args.pending:,} pending events: sensor tick "
        + ", ".join(f"{t:.3f}" for t in timings)
        + " s"
    )


if __name__ == "__main__":
    main()
