"""The provisioning-events sensor: pending events become one run at a time of the events job."""

import json
from collections.abc import Callable

import dagster as dg

from connector.dagster_defs.naming import DEFAULT_NAMING, Naming
from connector.dagster_defs.resources import EventStoreResource

SENSOR_NAME = DEFAULT_NAMING.name("events_sensor")
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def events_sensor(
    job_name: str, interval_s: int, naming: Naming = DEFAULT_NAMING
) -> dg.SensorDefinition:
    """Request a run of the job `job_name` when events are pending and no run of it is active.

    Runs are serialized: one run applies every event pending at its start. The run key is the
    highest pending `i_event` plus an attempt number, so a tick evaluated twice requests nothing
    new, while events left pending by a failed run get a fresh key on the next tick.
    """

    @dg.sensor(
        name=naming.name("events_sensor"),
        job_name=job_name,
        minimum_interval_seconds=interval_s,
        description="Applies provisioning events received by `portabilling webhook`.",
        required_resource_keys={naming.events_store},
    )
    def _sensor(
        context: dg.SensorEvaluationContext, **_resources: object
    ) -> dg.SensorResult | dg.SkipReason:
        # A direct call (`sensor(context)`) also passes the required resources by key.
        events_store: EventStoreResource = naming.resource(context, "events_store")
        with events_store.get_store() as store:
            _release_claims_of_dead_runs(context.instance, store.claimed_runs(), store.release)
            if _has_active_run(context.instance, job_name):
                return dg.SkipReason("an events run is still in progress")
            pending = store.pending_summary()
        if pending.count == 0 or pending.max_i_event is None:
            return dg.SkipReason("no pending events")
        cursor = json.loads(context.cursor) if context.cursor else {}
        same = cursor.get("through") == pending.max_i_event
        attempt = cursor.get("attempt", 0) + 1 if same else 0
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"events-{pending.max_i_event}-{attempt}",
                    tags={"portabilling/pending_events": str(pending.count)},
                )
            ],
            cursor=json.dumps({"through": pending.max_i_event, "attempt": attempt}),
        )

    return _sensor


def _has_active_run(instance: dg.DagsterInstance, job_name: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=ACTIVE), limit=1)
    return bool(runs)


def _release_claims_of_dead_runs(
    instance: dg.DagsterInstance, claimed: dict[str, int], release: Callable[[str], int]
) -> None:
    """Claims of runs that ended without completing (killed, crashed) go back to pending."""
    for run_id in claimed:
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in ACTIVE:
            release(run_id)
