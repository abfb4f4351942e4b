"""The hook a user overrides to change a PortaBilling table's asset spec (owners, tags, ...)."""

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class PortaBillingTableProps:
    """One table of one instance, and the spec the component's attributes give its asset."""

    instance: str
    table: str
    spec: dg.AssetSpec


class PortaBillingTranslator:
    """Turns a table's asset spec into the one the definitions carry; subclass to change it.

    Keys come from the component's `key_prefix`; everything else of the spec may change
    (description, group, owners, tags, metadata, freshness policy, automation condition).
    """

    def get_asset_spec(self, props: PortaBillingTableProps) -> dg.AssetSpec:
        """The asset spec of `props.table`; by default the one the attributes give."""
        return props.spec
