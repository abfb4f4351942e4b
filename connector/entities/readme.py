"""README.md's table list, written from the registry (a test keeps the two equal)."""

from connector.entities.declaration import (
    DailyPartitions,
    Entity,
    FullSnapshot,
    PerParent,
    RecentWindow,
    Registry,
)

BEGIN = "<!-- tables: generated from connector.entities; see tests/test_readme_tables.py -->"
END = "<!-- end of tables -->"
HEADER = (
    "| asset | key | listed by | refresh | updated in place by events |\n"
    "| --- | --- | --- | --- | --- |"
)


def table_list(entities: Registry) -> str:
    """The Markdown table of every entity's table, between the README's markers."""
    rows = [_row(entity) for entity in entities]
    return "\n".join([BEGIN, HEADER, *rows, END])


def _row(entity: Entity) -> str:
    asset = f"`portabilling/{entity.name}`"
    cells = [asset, f"`{entity.table.key}`", _source(entity), _refresh(entity)]
    groups = ", ".join(f"`{route.group}/*`" for route in entity.events) or "no"
    return "| " + " | ".join([*cells, groups]) + " |"


def _source(entity: Entity) -> str:
    method = entity.list_method
    text = f"`{method.service}/{method.method}`"
    if isinstance(entity.source, PerParent):
        text += f" per row of `{entity.source.parent}`"
    return text


def _refresh(entity: Entity) -> str:
    match entity.refresh:
        case FullSnapshot():
            return "full snapshot"
        case DailyPartitions():
            return "daily partitions (`date=YYYY-MM-DD`)"
        case RecentWindow(window_days=days):
            return f"last {days} days re-read, merged by key"
