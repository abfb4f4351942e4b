"""Run-status sensors that log out the PortaBilling session a run's steps shared, once it ends.

Steps of a run share one session through the token cache, so no step may log it out when it
finishes. The run's end is seen by these sensors (the Dagster daemon evaluates them), which log
the session out and delete its cache entry. Without a daemon, or when the cache folder is not
shared with it, the session is left to the server's inactivity timer; see docs/deploy.md.
"""

import dagster as dg

from connector.dagster_defs.naming import DEFAULT_NAMING, Naming
from connector.dagster_defs.resources import PortaBillingResource

ENDED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def session_logout_sensor(
    status: dg.DagsterRunStatus, naming: Naming = DEFAULT_NAMING
) -> dg.RunStatusSensorDefinition:
    """A sensor that ends the instance's shared session of every run reaching `status`."""

    def _logout(context: dg.RunStatusSensorContext, **_resources: object) -> None:
        # A direct call (`sensor(context)`) also passes the required resources by key.
        portabilling: PortaBillingResource = naming.resource(context, "portabilling")
        portabilling.end_run_session(context.dagster_run.run_id)

    return dg.RunStatusSensorDefinition(
        name=naming.name(f"logout_on_{status.value.lower()}"),
        run_status=status,
        run_status_sensor_fn=_logout,
        description="Logs out the PortaBilling session the run's steps shared.",
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={naming.portabilling},
    )


def session_logout_sensors(naming: Naming = DEFAULT_NAMING) -> list[dg.RunStatusSensorDefinition]:
    """One logout sensor per way a run can end."""
    return [session_logout_sensor(status, naming) for status in ENDED]
