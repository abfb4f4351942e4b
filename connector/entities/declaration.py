"""The types an entity is declared with: its table, where its rows come from, how it refreshes.

Small value objects, no Dagster: `connector.dagster_defs.assets`, `connector.dagster_defs.project`,
`connector.sync.refresh` and the events routing read them; nothing else says what an entity is.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from connector.events.types import Route
from connector.scan.fanout import FanOut
from connector.scan.paging import Call, ListScan
from connector.store.tables import TableSpec

API_DATETIME = "%Y-%m-%d %H:%M:%S"

# `PortaBillingClient.call`: service, method, params -> the JSON answer.
CallJson = Callable[[str, str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class DateFilter:
    """The list method's parameters that bound a time range: `after <= t < before`."""

    after: str
    before: str
    format: str = API_DATETIME

    def params(self, start: datetime, end: datetime) -> dict[str, str]:
        """The parameters selecting `[start, end)`."""
        return {self.after: start.strftime(self.format), self.before: end.strftime(self.format)}


@dataclass(frozen=True)
class ListMethod:
    """A paged list method: `service/method` answering rows under `list_key`, keyed by `key`."""

    service: str
    method: str
    list_key: str
    key: str
    date_filter: DateFilter | None = None

    def scan(self, call: Call, params: dict[str, Any] | None = None, **options: Any) -> ListScan:
        """A drift-repaired scan of the method (`options` as `ListScan` takes them)."""
        return ListScan(call, self.service, self.method, self.list_key, self.key, params, **options)

    def fan_out(self, call: Call, param_sets: Sequence[dict[str, Any]], **options: Any) -> FanOut:
        """One scan per parameter set, side by side, rows deduplicated by key."""
        return FanOut(
            call, self.service, self.method, self.list_key, self.key, param_sets, **options
        )


@dataclass(frozen=True)
class PerParent:
    """Rows listed once per row of a parent entity, e.g. xDRs per customer and UTC day."""

    parent: str
    parent_id: str
    method: ListMethod


@dataclass(frozen=True)
class InfoRead:
    """Re-read one entity by id with its info method, e.g. `Account/get_account_info`."""

    service: str
    method: str
    info_key: str
    id_param: str

    def fetch(self, call: CallJson, value: object) -> dict[str, Any] | None:
        """The current record, or None if the server no longer has it."""
        record = call(self.service, self.method, {self.id_param: value}).get(self.info_key)
        return record or None


@dataclass(frozen=True)
class LookupRead:
    """Re-read one entity found by another field through the list method's filter on it.

    For events that name something other than the key (a DID event names `number`).
    """

    field: str
    method: ListMethod

    def fetch(self, call: CallJson, value: object) -> dict[str, Any] | None:
        """The one record whose `field` equals `value`, or None if there is none."""
        answer = call(self.method.service, self.method.method, {self.field: value})
        matches = [
            row for row in answer.get(self.method.list_key) or [] if row.get(self.field) == value
        ]
        return matches[0] if matches else None


@dataclass(frozen=True)
class EventRoute:
    """An ESPF event group (`Subscriber` in `Subscriber/Updated`) naming this entity, and how."""

    group: str
    id_variable: str


@dataclass(frozen=True)
class FullSnapshot:
    """Every run replaces the whole table with what the list method answers."""


@dataclass(frozen=True)
class DailyPartitions:
    """One partition per UTC day (`date=YYYY-MM-DD`), listed through the source's date filter."""


@dataclass(frozen=True)
class RecentWindow:
    """Each run re-reads the last `window_days` days through the date filter and merges by key.

    `setting` names the environment variable that overrides `window_days`, if any.
    """

    window_days: int = 60
    setting: str | None = None


Source = ListMethod | PerParent
Refresh = FullSnapshot | DailyPartitions | RecentWindow
Reread = InfoRead | LookupRead


@dataclass(frozen=True)
class Entity:
    """Everything the connector knows about one PortaBilling entity; the rest derives from it."""

    table: TableSpec
    description: str
    source: Source
    refresh: Refresh = FullSnapshot()
    reread: Reread | None = None
    events: tuple[EventRoute, ...] = ()

    def __post_init__(self) -> None:
        if self.list_method.key != self.table.key:
            raise ValueError(f"entity {self.name}: the list method's key is not the table's")
        if self.events and self.reread is None:
            raise ValueError(f"entity {self.name}: events name it but nothing re-reads it")
        unknown = [
            e.id_variable for e in self.events if e.id_variable not in self.table.schema.names
        ]
        if unknown:
            raise ValueError(f"entity {self.name}: events name it by {unknown}, not columns")
        if not isinstance(self.refresh, FullSnapshot) and self.list_method.date_filter is None:
            raise ValueError(f"entity {self.name}: {self.refresh} needs a date filter")
        if isinstance(self.source, PerParent) and not isinstance(self.refresh, DailyPartitions):
            raise ValueError(f"entity {self.name}: a fan-out per parent is read a day at a time")

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def list_method(self) -> ListMethod:
        """The method the rows are listed with (per parent row for a fan-out)."""
        return self.source.method if isinstance(self.source, PerParent) else self.source

    def route(self, event: EventRoute) -> Route:
        """How an event of `event.group` names this entity (an id, or text such as a number)."""
        kind = self.table.schema.field(event.id_variable).type
        return Route(self.name, event.id_variable, is_text=pa.types.is_string(kind))

    @property
    def upstream(self) -> tuple[str, ...]:
        """The entities this one is read through (lineage)."""
        return (self.source.parent,) if isinstance(self.source, PerParent) else ()


class Registry:
    """The entities the connector extracts, by name; checks that they fit together."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._entities: dict[str, Entity] = {}
        for entity in entities:
            if entity.name in self._entities:
                raise ValueError(f"two entities named {entity.name}")
            self._entities[entity.name] = entity
        for entity in self:
            self._check_upstream(entity)
        self.routing()  # no event group names an entity twice

    def _check_upstream(self, entity: Entity) -> None:
        for parent in entity.upstream:
            if parent not in self._entities or isinstance(self[parent].source, PerParent):
                raise ValueError(f"entity {entity.name}: no listed entity {parent} to fan out from")

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._entities.values())

    def __getitem__(self, name: str) -> Entity:
        return self._entities[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entities

    def plus(self, *entities: Entity) -> "Registry":
        """This registry with more entities."""
        return Registry([*self, *entities])

    def window_settings(self) -> dict[str, str]:
        """Entity name -> the environment variable that sizes its recent window."""
        return {
            entity.name: entity.refresh.setting
            for entity in self
            if isinstance(entity.refresh, RecentWindow) and entity.refresh.setting
        }

    def with_window_days(self, days: Mapping[str, int]) -> "Registry":
        """This registry with the recent windows of the named entities resized."""
        return Registry(
            replace(entity, refresh=replace(entity.refresh, window_days=days[entity.name]))
            if entity.name in days and isinstance(entity.refresh, RecentWindow)
            else entity
            for entity in self
        )

    def refreshed_by(self, *modes: type) -> list[Entity]:
        """The entities whose refresh mode is one of `modes`, in declaration order."""
        return [entity for entity in self if isinstance(entity.refresh, modes)]

    def routing(self) -> Mapping[str, tuple[Route, ...]]:
        """ESPF event group -> the entities it names and the variables holding their ids."""
        routes: dict[str, tuple[Route, ...]] = {}
        for entity in self:
            for route in entity.events:
                named = routes.get(route.group, ())
                if entity.name in (r.entity for r in named):
                    raise ValueError(f"event group {route.group} names {entity.name} twice")
                routes[route.group] = (*named, entity.route(route))
        return routes
