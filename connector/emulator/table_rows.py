"""The rows of declared entity tables: list order, paging, mutations with events, and serving."""

import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from connector.emulator.config import EmulatorConfig
from connector.emulator.entity_tables import EntityTable
from connector.emulator.index import OrderedIndex
from connector.emulator.params import Params, paging, required_int, with_total
from connector.emulator.records import Record

# (event type, variables, changes): how a table hands a mutation's event to the world.
EventSink = Callable[[str, tuple[tuple[str, Any], ...], dict[str, Any]], None]
Answer = dict[str, Any]
Page = tuple[list[Record], int]


class TableRows:
    """One table's rows in a stable order that is not by key; built on first use."""

    def __init__(self, table: EntityTable, config: EmulatorConfig, sink: EventSink) -> None:
        self.table = table
        self._config = config
        self._sink = sink
        self._rng = random.Random(config.seed)
        self._lock = threading.RLock()
        self._loaded: tuple[OrderedIndex, dict[int, Record]] | None = None

    def _rows(self) -> tuple[OrderedIndex, dict[int, Record]]:
        """The index and rows, built from the declaration's records the first time."""
        with self._lock:
            if self._loaded is None:
                rows = {int(row[self.table.key]): row for row in self.table.records(self._config)}
                keys = np.fromiter(rows, dtype=np.int64, count=len(rows))
                self._loaded = OrderedIndex(self._config.seed, keys, {}), rows
            return self._loaded

    def page(self, offset: int, limit: int | None, test: Callable[[Record], bool]) -> Page:
        """One page of the rows a test selects, in list order, and how many it selects."""
        with self._lock:
            index, rows = self._rows()
            chosen = [rows[key] for key in index.keys.tolist() if test(rows[key])]
        return chosen[offset : None if limit is None else offset + limit], len(chosen)

    def all(self) -> list[Record]:
        """Every row, in list order (copies)."""
        return [dict(row) for row in self.page(0, None, lambda row: True)[0]]

    def get(self, key: int) -> Record | None:
        """The row with this key, or None."""
        with self._lock:
            return self._rows()[1].get(key)

    def create(self, fields: dict[str, Any]) -> Record:
        """Add a row under the next free key; records `<group>/Created`."""
        with self._lock:
            index, rows = self._rows()
            key = max(rows, default=0) + 1
            rows[key] = {self.table.key: key, **fields}
            index.insert(key, {})
            self._event("Created", rows[key], fields)
            return dict(rows[key])

    def update(self, key: int, fields: dict[str, Any]) -> Record:
        """Change a row's fields; records `<group>/Updated`."""
        with self._lock:
            rows = self._rows()[1]
            if key not in rows:
                raise KeyError(f"no {self.table.table_name} row {key}")
            rows[key] = {**rows[key], **fields}
            self._event("Updated", rows[key], fields)
            return dict(rows[key])

    def delete(self, key: int) -> None:
        """Remove a row; records `<group>/Deleted`."""
        with self._lock:
            index, rows = self._rows()
            if key not in rows:
                raise KeyError(f"no {self.table.table_name} row {key}")
            index.remove(key)
            self._event("Deleted", rows.pop(key), {})

    def churn(self, count: int) -> None:
        """Create and delete `count` rows each, at pseudo-random list positions."""
        make = self.table.churn
        if make is None:
            return
        with self._lock:
            index, rows = self._rows()
            for _ in range(count):
                if rows:
                    template = rows[int(index.keys[self._rng.randrange(len(index))])]
                    fresh = make(dict(template), max(rows) + 1)
                    self.create({k: v for k, v in fresh.items() if k != self.table.key})
                    self.delete(int(index.keys[self._rng.randrange(len(index))]))

    def _event(self, action: str, row: Record, changes: dict[str, Any]) -> None:
        events = self.table.events
        if events is None or action not in events.actions:
            return
        variables = tuple((name, row.get(name)) for name in events.variables)
        self._sink(f"{events.group}/{action}", variables, changes)


class TableSet:
    """Every declared table of one emulator, and the handlers for their methods."""

    def __init__(
        self, tables: Iterable[EntityTable], config: EmulatorConfig, sink: EventSink
    ) -> None:
        self._config = config
        self._by_name: dict[str, TableRows] = {}
        self._handlers: dict[str, Callable[[Params], Answer]] = {}
        for table in tables:
            self._add(TableRows(table, config, sink))

    def _add(self, rows: TableRows) -> None:
        table = rows.table
        if table.table_name in self._by_name:
            raise ValueError(f"two tables are named {table.table_name!r}")
        self._by_name[table.table_name] = rows
        self._handlers[table.list_name] = lambda params: self._list(rows, params)
        info_name, info_key = table.info_name, table.info_key
        if info_name is not None and info_key is not None:
            self._handlers[info_name] = lambda params: self._info(rows, params, info_key)

    def __getitem__(self, name: str) -> TableRows:
        return self._by_name[name]

    def handler(self, name: str) -> Callable[[Params], Answer] | None:
        """The handler of a `Service/method` a table serves, or None."""
        return self._handlers.get(name)

    def _list(self, rows: TableRows, params: Params) -> Answer:
        table = rows.table
        offset, limit = paging(params, table.list_method)
        test = table.selection(params)
        if self._config.churn_per_page:
            rows.churn(self._config.churn_per_page)
        records, total = rows.page(offset, limit, test)
        return with_total({table.list_key: records}, total, params, self._config.total_as_string)

    def _info(self, rows: TableRows, params: Params, info_key: str) -> Answer:
        table = rows.table
        record = rows.get(required_int(params, table.key, str(table.info_method)))
        return {} if record is None else {info_key: record}
