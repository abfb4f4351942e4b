"""How one connector instance names its assets, jobs, schedules, sensors and resources.

The environment's single instance keeps the contract's names (`portabilling/accounts`,
`portabilling_snapshot_job`, resource `portabilling`); a named instance puts its name in every
one of them, so several servers sit side by side in one code location without a collision.
"""

from dataclasses import dataclass
from typing import Any

import dagster as dg


@dataclass(frozen=True)
class Naming:
    """Asset key prefix and instance name; everything else is derived from them."""

    key_prefix: tuple[str, ...] = ("portabilling",)
    instance: str = ""

    def asset_key(self, table: str) -> dg.AssetKey:
        """`<key_prefix>/<table>`."""
        return dg.AssetKey([*self.key_prefix, table])

    def name(self, what: str) -> str:
        """A job, schedule or sensor name: `portabilling[_<instance>]_<what>`."""
        return "_".join(["portabilling", *([self.instance] if self.instance else []), what])

    def resource_key(self, what: str) -> str:
        """A resource key: `<what>` or `<what>_<instance>`."""
        return f"{what}_{self.instance}" if self.instance else what

    @property
    def portabilling(self) -> str:
        return self.resource_key("portabilling")

    @property
    def storage(self) -> str:
        return self.resource_key("storage")

    @property
    def events_store(self) -> str:
        return self.resource_key("events_store")

    def resource(self, context: Any, what: str) -> Any:
        """The instance's resource `what` from a run's or sensor's context."""
        return getattr(context.resources, self.resource_key(what))


DEFAULT_NAMING = Naming()
