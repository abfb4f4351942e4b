"""A subclass's translator changes the assets' specs, as docs/component.md shows."""

import dagster as dg

from connector.dagster_defs.component import PortaBillingComponent
from connector.dagster_defs.translator import PortaBillingTableProps, PortaBillingTranslator

YAML = """
name: t
connection: {url: "{{ env.PB_URL }}", login: api, password: "{{ env.PB_PASSWORD }}"}
data_dir: ./data
tags: {server: t}
"""


class TierTranslator(PortaBillingTranslator):
    def get_asset_spec(self, props: PortaBillingTableProps) -> dg.AssetSpec:
        tier = "gold" if props.table == "accounts" else "silver"
        return props.spec.merge_attributes(tags={"tier": tier})


class TieredPortaBilling(PortaBillingComponent):
    @property
    def translator(self) -> PortaBillingTranslator:
        return TierTranslator()


def test_the_translator_sees_the_attributes_and_changes_the_spec() -> None:
    defs = dg.build_defs_for_component(TieredPortaBilling.resolve_from_yaml(YAML))
    tags = {s.key.to_user_string(): s.tags for s in defs.resolve_all_asset_specs()}
    assert tags["portabilling/t/accounts"]["tier"] == "gold"
    assert tags["portabilling/t/customers"]["tier"] == "silver"
    assert {t["server"] for t in tags.values()} == {"t"}
