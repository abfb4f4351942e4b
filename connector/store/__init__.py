"""Tables on disk: records → typed Arrow batches → Parquet, atomic publish, locks (no Dagster).

No pyarrow import here: `connector.store.memory` must run before pyarrow loads.
"""
