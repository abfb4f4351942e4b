"""Dagster entry point: `dagster dev` and `dagster asset materialize -m definitions` load `defs`."""

from connector.project import build_defs

defs = build_defs()
