"""Dagster entry point: `dagster dev` and `dagster asset materialize -m definitions` load `defs`."""

from connector.store.memory import lean_allocators

lean_allocators()  # before pyarrow is loaded: this process may run extractions

from connector.dagster_defs.project import build_defs  # noqa: E402 (after the allocator settings)

defs = build_defs()
