"""`dg scaffold defs <PortaBillingComponent> <name>`: a `defs.yaml` ready to fill in."""

from typing import Any

import dagster as dg


class PortaBillingScaffolder(dg.Scaffolder):
    """A `defs.yaml` whose instance is named after its folder, secrets from the environment."""

    def scaffold(self, request: dg.ScaffoldRequest[Any]) -> None:
        name = request.target_path.name.replace("-", "_").lower()
        prefix = name.upper()
        dg.scaffold_component(
            request,
            {
                "name": name,
                "connection": {
                    "url": f"{{{{ env.{prefix}_PORTABILLING_URL }}}}",
                    "login": f"{{{{ env.{prefix}_PORTABILLING_LOGIN }}}}",
                    "password": f"{{{{ env.{prefix}_PORTABILLING_PASSWORD }}}}",
                },
                "data_dir": f"./data/{name}",
            },
        )
