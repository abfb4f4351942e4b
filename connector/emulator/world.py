"""The emulated PortaBilling data: derived records, an overlay of mutations, list order, events."""

import json
import random
import threading
from typing import Any

import numpy as np

from connector.emulator.config import EmulatorConfig
from connector.emulator.events import Event
from connector.emulator.filters import (
    EVERY_ACCOUNT,
    EVERY_CUSTOMER,
    AccountQuery,
    CustomerQuery,
    Like,
    derived_matches,
)
from connector.emulator.index import OrderedIndex
from connector.emulator.numbers import alias_records, extension_record
from connector.emulator.records import (
    KIND_OWNER,
    KIND_STATUS,
    Json,
    Record,
    RecordFactory,
    account_key,
    decode,
    key_hashes,
    patch,
)

FIRST_ACCOUNT = 1000
BILL_STATUSES = ("O", "I", "C")
Page = tuple[list[Json], int]


class World:
    """All entities; every read and mutation holds one lock, records are built outside it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._seed = config.seed
        self._customer_count = config.customers
        self.factory = RecordFactory(
            config.seed, config.xdr_start, config.xdr_days, config.xdrs_per_account
        )
        keys = np.arange(FIRST_ACCOUNT, FIRST_ACCOUNT + config.accounts, dtype=np.int64)
        columns = {"owner": self._base_owners(keys), "status": self._base_statuses(keys)}
        self.accounts = OrderedIndex(config.seed, keys, columns)
        self.customers = OrderedIndex(
            config.seed, np.arange(1, config.customers + 1, dtype=np.int64), {}
        )
        self._account_fields: dict[int, Record] = {}
        self._customer_fields: dict[int, Record] = {}
        self._next_account = FIRST_ACCOUNT + config.accounts
        self._next_customer = config.customers + 1
        self._groups: tuple[int, np.ndarray, np.ndarray] | None = None
        self._rng = random.Random(config.seed)
        self.events: list[Event] = []
        self.lock = threading.RLock()

    def _base_owners(self, keys: np.ndarray) -> np.ndarray:
        owners = key_hashes(self._seed, KIND_OWNER, keys) % np.uint64(self._customer_count)
        return owners.astype(np.int64) + 1

    def _base_statuses(self, keys: np.ndarray) -> np.ndarray:
        buckets = (key_hashes(self._seed, KIND_STATUS, keys) % np.uint64(20)).astype(np.int8)
        return np.where(buckets == 0, 2, np.where(buckets == 1, 1, 0)).astype(np.int8)

    # --- reads -------------------------------------------------------------------------------

    def account_page(
        self, offset: int, limit: int | None, query: AccountQuery = EVERY_ACCOUNT
    ) -> Page:
        """One page of the accounts a query selects, in list order, and their total."""
        with self.lock:
            index = self.accounts
            chosen, total = self._account_positions(offset, limit, query)
            keys = index.keys[chosen].tolist()
            owners = index.columns["owner"][chosen].tolist()
            statuses = [BILL_STATUSES[code] for code in index.columns["status"][chosen].tolist()]
            names = self._owner_names(owners)
            overlay = self._overlay(self._account_fields, keys)
        records = self.factory.accounts(keys, owners, statuses, names)
        return _apply(records, keys, overlay), total

    def _account_positions(
        self, offset: int, limit: int | None, query: AccountQuery
    ) -> tuple[slice | np.ndarray, int]:
        """List positions of one page, and the total; an empty query needs no scan."""
        end = None if limit is None else offset + limit
        if query.is_empty:
            return slice(offset, end), len(self.accounts)
        positions = self._selected(query)
        return positions[offset:end], len(positions)

    def _selected(self, query: AccountQuery) -> np.ndarray:
        """Positions of the accounts a query selects: columns first, then text on the rest."""
        index = self.accounts
        mask = np.ones(len(index), dtype=bool)
        if query.i_customer is not None:
            mask &= index.columns["owner"] == query.i_customer
        if query.bill_status is not None:
            code = (
                BILL_STATUSES.index(query.bill_status) if query.bill_status in BILL_STATUSES else -1
            )
            mask &= index.columns["status"] == code
        if query.not_closed:
            mask &= index.columns["status"] != BILL_STATUSES.index("C")
        positions = np.flatnonzero(mask)
        for name, like in query.texts:
            positions = positions[self._text_matches(name, like, index.keys[positions])]
        return positions

    def _text_matches(self, name: str, like: Like, keys: np.ndarray) -> np.ndarray:
        """Which accounts' text field matches: derived values, then mutated ones over them."""
        matches = derived_matches(self._seed, name, like, keys)
        changed = {k: f[name] for k, f in self._account_fields.items() if name in f}
        for at in np.flatnonzero(np.isin(keys, list(changed))).tolist():
            matches[at] = like.matches(changed[int(keys[at])])
        return matches

    def _owner_names(self, owners: list[int]) -> list[str]:
        """Each owner's current `name`, JSON-encoded, for the accounts' `customer_name`."""
        names = self.factory.customer_names(owners)
        renamed = {k: f["name"] for k, f in self._customer_fields.items() if "name" in f}
        if not renamed:
            return names
        return [
            json.dumps(renamed[owner], ensure_ascii=False) if owner in renamed else name
            for owner, name in zip(owners, names, strict=True)
        ]

    def account(self, i_account: int) -> Json | None:
        """The account with this key, or None."""
        with self.lock:
            at = self.accounts.position(i_account)
            if at is None:
                return None
            owner = int(self.accounts.columns["owner"][at])
            status = BILL_STATUSES[int(self.accounts.columns["status"][at])]
            names = self._owner_names([owner])
            overlay = self._overlay(self._account_fields, [i_account])
        records = self.factory.accounts([i_account], [owner], [status], names)
        return _apply(records, [i_account], overlay)[0]

    def account_by(self, name: str, value: str) -> Json | None:
        """The account whose `id` or `login` is `value` (derived from the key unless overridden)."""
        with self.lock:
            for key, fields in self._account_fields.items():
                if fields.get(name) == value:
                    return self.account(key)
            key = account_key(name, value)
            renamed = name in self._account_fields.get(key, {})
        return None if renamed else self.account(key)

    def aliases(self, i_master_account: int, offset: int, limit: int | None) -> Page:
        """The aliases of an account (none for an unknown account), paged."""
        record = self.account(i_master_account)
        return _window([] if record is None else alias_records(decode(record)), offset, limit)

    def extensions(
        self, i_customer: int, offset: int, limit: int | None, branches: bool = False
    ) -> Page:
        """The PBX extensions of a customer's accounts (then its branches' ones), paged."""
        owners = [i_customer]
        if branches:
            offices = self.customer_page(0, None, CustomerQuery(i_main_customer=i_customer))[0]
            owners += [decode(office)["i_customer"] for office in offices]
        accounts = [
            text
            for owner in owners
            for text in self.account_page(0, None, AccountQuery(i_customer=owner))[0]
        ]
        found = [extension_record(decode(text)) for text in accounts]
        return _window([entry for entry in found if entry is not None], offset, limit)

    def customer_page(
        self, offset: int, limit: int | None, query: CustomerQuery = EVERY_CUSTOMER
    ) -> Page:
        """One page of the customers a query selects, in list order, and their total."""
        if not query.is_empty:
            every = self.customer_page(0, None)[0]
            return _window([r for r in every if query.matches(decode(r))], offset, limit)
        with self.lock:
            keys = self.customers.keys[offset : None if limit is None else offset + limit].tolist()
            total = len(self.customers)
            overlay = self._overlay(self._customer_fields, keys)
        return _apply(self.factory.customers(keys), keys, overlay), total

    def customer(self, i_customer: int) -> Json | None:
        """The customer with this key, or None."""
        with self.lock:
            if i_customer not in self.customers:
                return None
            overlay = self._overlay(self._customer_fields, [i_customer])
        return _apply(self.factory.customers([i_customer]), [i_customer], overlay)[0]

    def account_xdrs(
        self, i_account: int, start: int | None, end: int | None, offset: int, limit: int | None
    ) -> Page:
        """xDRs of one account with billing time in [start, end), paged."""
        with self.lock:
            present = i_account in self.accounts
        if not present:
            return [], 0
        ids = self.factory.xdr_ids(np.array([i_account], dtype=np.int64))
        return self._xdr_page(ids, start, end, offset, limit)

    def customer_xdrs(
        self, i_customer: int, start: int | None, end: int | None, offset: int, limit: int | None
    ) -> Page:
        """xDRs of a customer's accounts with billing time in [start, end), paged."""
        if not self._overlaps_window(start, end):
            return [], 0
        with self.lock:
            keys = self._accounts_of(i_customer)
        return self._xdr_page(self.factory.xdr_ids(keys), start, end, offset, limit)

    def all_xdrs(self, start: int, end: int) -> list[Json]:
        """Every xDR with billing time in [start, end), in billing-time order."""
        with self.lock:
            keys = self.accounts.keys.copy()
        return self._xdr_page(self.factory.xdr_ids(keys), start, end, 0, None)[0]

    def _overlaps_window(self, start: int | None, end: int | None) -> bool:
        first = self.factory.window_start
        last = first + self.factory.window_s
        return (start is None or start < last) and (end is None or end > first)

    def _xdr_page(
        self, ids: np.ndarray, start: int | None, end: int | None, offset: int, limit: int | None
    ) -> Page:
        times = self.factory.bill_times(ids)
        mask = np.ones(len(ids), dtype=bool)
        if start is not None:
            mask &= times >= start
        if end is not None:
            mask &= times < end
        ids, times = ids[mask], times[mask]
        chosen = np.lexsort((ids, times))[offset : None if limit is None else offset + limit]
        return self.factory.xdrs(ids[chosen].tolist(), times[chosen].tolist()), len(ids)

    def _accounts_of(self, i_customer: int) -> np.ndarray:
        """Account keys owned by a customer, from a grouping rebuilt only after mutations."""
        index = self.accounts
        if self._groups is None or self._groups[0] != index.generation:
            order = np.argsort(index.columns["owner"], kind="stable")
            self._groups = (index.generation, index.columns["owner"][order], index.keys[order])
        _, owners, keys = self._groups
        low, high = (
            np.searchsorted(owners, i_customer, "left"),
            np.searchsorted(owners, i_customer, "right"),
        )
        return keys[low:high]

    @staticmethod
    def _overlay(fields: dict[int, Record], keys: list[int]) -> dict[int, Record]:
        if not fields:
            return {}
        return {key: dict(fields[key]) for key in keys if key in fields}

    # --- mutations ---------------------------------------------------------------------------

    def create_account(self, i_customer: int, **fields: Any) -> Record:
        """Add an account owned by `i_customer`; returns it as the API would."""
        with self.lock:
            if i_customer not in self.customers:
                raise KeyError(f"no customer {i_customer}")
            key = self._next_account
            self._next_account += 1
            keys = np.array([key], dtype=np.int64)
            status = int(self._base_statuses(keys)[0])
            if "bill_status" in fields:
                status = _status_code(fields["bill_status"])
            self.accounts.insert(key, {"owner": i_customer, "status": status})
            self._account_fields[key] = {"i_customer": i_customer, **fields}
            self._record("Subscriber/Created", "i_account", key, fields)
        return self._must(self.account(key))

    def update_account(self, i_account: int, **fields: Any) -> Record:
        """Change fields of an account; returns it as the API would."""
        with self.lock:
            if i_account not in self.accounts:
                raise KeyError(f"no account {i_account}")
            index = self.accounts
            status = _status_code(
                fields.get("bill_status", BILL_STATUSES[index.value(i_account, "status")])
            )
            index.set_value(i_account, "status", status)
            index.set_value(
                i_account, "owner", int(fields.get("i_customer", index.value(i_account, "owner")))
            )
            self._account_fields.setdefault(i_account, {}).update(fields)
            self._record("Subscriber/Updated", "i_account", i_account, fields)
        return self._must(self.account(i_account))

    def delete_account(self, i_account: int) -> None:
        """Remove an account."""
        with self.lock:
            if not self.accounts.remove(i_account):
                raise KeyError(f"no account {i_account}")
            self._account_fields.pop(i_account, None)
            self._record("Subscriber/Deleted", "i_account", i_account, {})

    def create_customer(self, **fields: Any) -> Record:
        """Add a customer; returns it as the API would."""
        with self.lock:
            key = self._next_customer
            self._next_customer += 1
            self.customers.insert(key, {})
            self._customer_fields[key] = dict(fields)
            self._record("Customer/Created", "i_customer", key, fields)
        return self._must(self.customer(key))

    def update_customer(self, i_customer: int, **fields: Any) -> Record:
        """Change fields of a customer; returns it as the API would."""
        with self.lock:
            if i_customer not in self.customers:
                raise KeyError(f"no customer {i_customer}")
            self._customer_fields.setdefault(i_customer, {}).update(fields)
            self._record("Customer/Updated", "i_customer", i_customer, fields)
        return self._must(self.customer(i_customer))

    def delete_customer(self, i_customer: int) -> None:
        """Remove a customer (its accounts stay, as orphans)."""
        with self.lock:
            if not self.customers.remove(i_customer):
                raise KeyError(f"no customer {i_customer}")
            self._customer_fields.pop(i_customer, None)
            self._record("Customer/Deleted", "i_customer", i_customer, {})

    def churn(self, count: int) -> None:
        """Create and delete `count` accounts each, at pseudo-random list positions."""
        with self.lock:
            for _ in range(count):
                if len(self.customers):
                    owner = int(self.customers.keys[self._rng.randrange(len(self.customers))])
                    self.create_account(owner)
                if len(self.accounts):
                    self.delete_account(
                        int(self.accounts.keys[self._rng.randrange(len(self.accounts))])
                    )

    def _record(self, event_type: str, id_name: str, key: int, changes: dict[str, Any]) -> None:
        self.record_event(event_type, ((id_name, key),), changes)

    def record_event(
        self, event_type: str, variables: tuple[tuple[str, Any], ...], changes: dict[str, Any]
    ) -> None:
        """Append an event naming `variables` (ESPF numbers them in order)."""
        with self.lock:
            number = len(self.events) + 1
            self.events.append(Event(number, event_type, variables, tuple(changes.items())))

    @staticmethod
    def _must(record: Json | None) -> Record:
        assert record is not None
        return decode(record)


def _apply(records: list[Json], keys: list[int], overlay: dict[int, Record]) -> list[Json]:
    """Records with the mutation overlay applied (the overlay is empty until something mutates)."""
    if not overlay:
        return records
    return [patch(r, overlay[k]) if k in overlay else r for r, k in zip(records, keys, strict=True)]


def _window(items: list[Json], offset: int, limit: int | None) -> Page:
    """One page of an already selected list, and the list's length."""
    return items[offset : None if limit is None else offset + limit], len(items)


def _status_code(bill_status: Any) -> int:
    if bill_status not in BILL_STATUSES:
        raise ValueError(f"bill_status must be one of {BILL_STATUSES}")
    return BILL_STATUSES.index(bill_status)
