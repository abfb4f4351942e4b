"""List scans: drift-repaired paging, per-parent fan-out, compact sets of seen keys (no Dagster).

Depends only on `connector.api`.
"""
