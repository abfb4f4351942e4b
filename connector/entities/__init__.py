"""What the connector extracts: one `Entity` declaration per PortaBilling entity.

An entity declares its table (key, typed columns with a one-line description each, secrets),
where its rows come from (a `ListMethod`, or a `PerParent` fan-out), how it refreshes
(`FullSnapshot`, `DailyPartitions` or a `RecentWindow` merged by key), how one of them is re-read
when an event names it (`InfoRead` or `LookupRead`), and which ESPF event groups name it
(`EventRoute`). Its asset, checks, lineage, job, schedule, event routing, demo summary row and
README table entry all derive from that declaration.

To add an entity: declare it (as `connector.entities.catalogue` and `.billing` declare the built-in
ones) and put it in `BUILT_IN` (or pass `BUILT_IN.plus(entity)` to `build_defs`). Nothing else
changes; `tests/test_readme_tables.py` then asks for its row in README.md's table list.
"""

from connector.entities.catalogue import ACCOUNTS, BUILT_IN, CUSTOMERS, XDRS
from connector.entities.declaration import (
    DailyPartitions,
    DateFilter,
    Entity,
    EventRoute,
    FullSnapshot,
    InfoRead,
    ListMethod,
    LookupRead,
    PerParent,
    RecentWindow,
    Registry,
)

__all__ = [
    "ACCOUNTS",
    "BUILT_IN",
    "CUSTOMERS",
    "XDRS",
    "DailyPartitions",
    "DateFilter",
    "Entity",
    "EventRoute",
    "FullSnapshot",
    "InfoRead",
    "ListMethod",
    "LookupRead",
    "PerParent",
    "RecentWindow",
    "Registry",
]
