"""The PortaBilling API client: errors, session, transport, settings and their limits (no Dagster).

Imports nothing from the rest of `connector/`; the public names are exported by `connector`.
"""
