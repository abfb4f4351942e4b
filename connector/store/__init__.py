"""Tables on disk: records → typed Arrow batches → Parquet or Delta, atomic publish, locks.

`backend.Tables` is what the rest of the connector uses; no Dagster here.

No pyarrow import here: `connector.store.memory` must run before pyarrow loads.
"""
