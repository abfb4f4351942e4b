"""Keeping the tables in step with the API: extraction runs, in-place event refreshes (no Dagster).

Reads the entity registry; scans with `connector.scan`, writes with `connector.store`.
"""
