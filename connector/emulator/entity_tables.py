"""An entity the emulator serves from records, declared once: methods, keys, filters, events.

Declaring an `EntityTable` is all it takes to serve a new list method (and its info method)
with the same paging, `total`, faults, churn and ground truth as the built-in entities.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from connector.emulator.config import EmulatorConfig
from connector.emulator.faults import Fault, invalid_param
from connector.emulator.filters import Like
from connector.emulator.records import Record

Predicate = Callable[[Record], bool]
DATE = r"\d{4}-\d{2}-\d{2}"
DATETIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
_SHAPES = {DATE: "YYYY-MM-DD", DATETIME: "YYYY-MM-DD HH:MM:SS"}


@dataclass(frozen=True)
class Equals:
    """`param` selects rows whose `field` (default: the param's name) equals it, as text."""

    param: str
    field: str = ""
    required: bool = False

    def predicate(self, value: Any, method: str) -> Predicate:
        """The row test for one request's value."""
        name, wanted = self.field or self.param, str(value)
        return lambda row: row.get(name) is not None and str(row[name]) == wanted


@dataclass(frozen=True)
class Pattern:
    """`param` is a SQL LIKE pattern on `field` (default: the param's name)."""

    param: str
    field: str = ""
    required: bool = False

    def predicate(self, value: Any, method: str) -> Predicate:
        """The row test for one request's value."""
        name, like = self.field or self.param, Like(str(value))
        return lambda row: like.matches(row.get(name))


@dataclass(frozen=True)
class Since:
    """`param` keeps rows whose date or datetime `field` is at or after it (text order)."""

    param: str
    field: str
    shape: str = DATE
    required: bool = False

    def predicate(self, value: Any, method: str) -> Predicate:
        """The row test for one request's value."""
        bound = _bound(value, self.param, self.shape, method)
        return lambda row: row.get(self.field) is not None and str(row[self.field]) >= bound


@dataclass(frozen=True)
class Before:
    """`param` keeps rows whose date or datetime `field` is strictly before it (text order)."""

    param: str
    field: str
    shape: str = DATE
    required: bool = False

    def predicate(self, value: Any, method: str) -> Predicate:
        """The row test for one request's value."""
        bound = _bound(value, self.param, self.shape, method)
        return lambda row: row.get(self.field) is not None and str(row[self.field]) < bound


ListFilter = Equals | Pattern | Since | Before


def _bound(value: Any, param: str, shape: str, method: str) -> str:
    """A date bound as sent, after checking its shape."""
    if not isinstance(value, str) or re.fullmatch(shape, value) is None:
        raise Fault(f"Client.{method}.invalid_date", f"{param} must be '{_SHAPES[shape]}'")
    return value


@dataclass(frozen=True)
class EntityEvents:
    """The ESPF events a table's mutations record: `<group>/<action>` naming `variables`."""

    group: str
    variables: tuple[str, ...]
    actions: tuple[str, ...] = ("Created", "Updated", "Deleted")


@dataclass(frozen=True)
class EntityTable:
    """One entity served from records: `<service>/<list_method>` answers `{list_key: [...]}`.

    `records` builds the initial rows from the config (deterministic from the seed); rows are
    listed in a stable order that is not by `key`. `churn` makes a new row from a template row
    and a fresh key: a table with it is live, so `churn_per_page` creates and deletes rows on
    each list call. `name` (default: `list_key`) names the table in the ground truth.
    """

    service: str
    list_method: str
    list_key: str
    key: str
    _: KW_ONLY
    records: Callable[[EmulatorConfig], Iterable[Record]]
    name: str = ""
    info_method: str | None = None
    info_key: str | None = None
    filters: tuple[ListFilter, ...] = ()
    churn: Callable[[Record, int], Record] | None = None
    events: EntityEvents | None = None

    def __post_init__(self) -> None:
        if (self.info_method is None) != (self.info_key is None):
            raise ValueError(f"{self.list_name}: give info_method and info_key together")

    @property
    def table_name(self) -> str:
        """The name the ground truth knows this table by."""
        return self.name or self.list_key

    @property
    def list_name(self) -> str:
        """The list method as `Service/method`."""
        return f"{self.service}/{self.list_method}"

    @property
    def info_name(self) -> str | None:
        """The info method as `Service/method`, if the entity has one."""
        return None if self.info_method is None else f"{self.service}/{self.info_method}"

    def selection(self, params: dict[str, Any]) -> Predicate:
        """The row test for a list call's filters; a fault for a missing required one."""
        tests = []
        for chosen in self.filters:
            value = params.get(chosen.param)
            if value is None:
                if chosen.required:
                    raise invalid_param(self.list_method, f"{chosen.param} is required")
                continue
            tests.append(chosen.predicate(value, self.list_method))
        return lambda row: all(test(row) for test in tests)
