"""`Vendor/get_xdr_list`: what each customer call cost, as the vendor that carried it bills it.

Every customer xDR was carried by one vendor (picked by a hash of its id), so a vendor xDR keeps
the customer xDR's `i_xdr` (unique among vendor xDRs too), its numbers and times, and carries the
vendor's cost instead of the customer's charge. Records are derived on demand, sorted once per
account-list generation by (vendor, billing time, id): a page is two binary searches.
"""

import threading
from typing import Any

import numpy as np

from connector.emulator.catalog import VENDORS, vendor_records
from connector.emulator.config import EmulatorConfig
from connector.emulator.params import Params, date_range, paging, required_int, with_total
from connector.emulator.records import KIND_VENDOR_XDR, Record, decode, hash_rows, key_hashes
from connector.emulator.world import World

_KEPT = (
    "i_xdr",
    "CLI",
    "CLD",
    "connect_time",
    "disconnect_time",
    "bill_time",
    "charged_quantity",
    "failed",
    "disconnect_cause",
    "call_id",
)
Sorted = tuple[int, np.ndarray, np.ndarray, np.ndarray]


class VendorXdrs:
    """The vendor-side xDRs of one emulated world."""

    def __init__(self, world: World, config: EmulatorConfig) -> None:
        self._world = world
        self._config = config
        self._currencies = {row["i_vendor"]: row["iso_4217"] for row in vendor_records(config)}
        self._lock = threading.Lock()
        self._sorted: Sorted | None = None

    def answer(self, params: Params) -> dict[str, Any]:
        """The `Vendor/get_xdr_list` answer: `i_vendor` required, billing time in [from, to)."""
        method = "get_xdr_list"
        i_vendor = required_int(params, "i_vendor", method)
        start, end = date_range(params, method)
        offset, limit = paging(params, method)
        records, total = self.page(i_vendor, start, end, offset, limit)
        answer = {"xdr_list": records}
        return with_total(answer, total, params, self._config.total_as_string)

    def page(
        self, i_vendor: int, start: int | None, end: int | None, offset: int, limit: int | None
    ) -> tuple[list[Record], int]:
        """One page of a vendor's xDRs with billing time in [start, end), and their total."""
        _, ids, times, vendors = self._order()
        low = int(np.searchsorted(vendors, i_vendor, "left"))
        high = int(np.searchsorted(vendors, i_vendor, "right"))
        span = times[low:high]
        first = low + (0 if start is None else int(np.searchsorted(span, start, "left")))
        last = low + (len(span) if end is None else int(np.searchsorted(span, end, "left")))
        stop = last if limit is None else min(last, first + offset + limit)
        chosen = slice(min(first + offset, last), stop)
        return self._records(ids[chosen], times[chosen], i_vendor), last - first

    def between(self, start: int, end: int) -> list[Record]:
        """Every vendor's xDRs with billing time in [start, end), vendor by vendor."""
        return [
            record
            for i_vendor in range(1, VENDORS + 1)
            for record in self.page(i_vendor, start, end, 0, None)[0]
        ]

    def _order(self) -> Sorted:
        """Every xDR id, billing time and vendor, sorted; rebuilt after account mutations."""
        with self._world.lock:
            generation, keys = self._world.accounts.generation, self._world.accounts.keys.copy()
        with self._lock:
            if self._sorted is None or self._sorted[0] != generation:
                layout = self._world.xdr_layout
                ids = layout.ids(keys)
                times = layout.bill_times(ids)
                vendors = self.vendor_of(ids)
                order = np.lexsort((ids, times, vendors))
                self._sorted = generation, ids[order], times[order], vendors[order]
            return self._sorted

    def vendor_of(self, ids: np.ndarray) -> np.ndarray:
        """The vendor that carried each xDR."""
        hashes = key_hashes(self._config.seed, KIND_VENDOR_XDR, ids) % np.uint64(VENDORS)
        return hashes.astype(np.int64) + 1

    def _records(self, ids: np.ndarray, times: np.ndarray, i_vendor: int) -> list[Record]:
        accounts = self._world.xdr_layout.accounts_of(ids)
        calls = self._world.factory.xdrs(ids.tolist(), accounts.tolist(), times.tolist())
        rates = hash_rows(self._config.seed, KIND_VENDOR_XDR, ids.tolist(), 1)
        return [
            self._vendor_xdr(decode(call), i_vendor, rate)
            for call, (rate,) in zip(calls, rates, strict=True)
        ]

    def _vendor_xdr(self, call: Record, i_vendor: int, rate: int) -> Record:
        """The vendor's record of a call: its cost is 40 to 80 % of the customer's charge."""
        kept = {name: call[name] for name in _KEPT if name in call}
        cost = round(call["charged_amount"] * (40 + rate % 41) / 100, 5)
        currency = self._currencies[i_vendor]
        return {**kept, "i_vendor": i_vendor, "charged_amount": cost, "iso_4217": currency}
