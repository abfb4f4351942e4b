"""Which xDRs each account holds and when they were billed: derived from ids, no table of records.

`PerAccount` (the default): every account holds `xdrs_per_account` xDRs, billed anywhere in the
window. `Skewed` (`xdrs_per_day`): the shape of a large operator's day. Each UTC day of the window
holds exactly `xdrs_per_day` xDRs; 1% of the customers (at least one) hold half of them, the next
9% share the other half, and every other customer holds none. Who is who is drawn from the seed
among the customers that own accounts at start; a customer's xDRs are spread evenly over its
accounts. Accounts created later hold none.
"""

from abc import ABC, abstractmethod
from datetime import date

import numpy as np

from connector.emulator.config import EmulatorConfig
from connector.emulator.records import KIND_XDR, epoch_of, key_hashes

DAY_S = 86400
HEAVY_SHARE, LIGHT_SHARE = 0.01, 0.09  # of the customers; each group holds half the xDRs


class XdrLayout(ABC):
    """xDR ids of accounts, and each id's account and billing time (epoch)."""

    def __init__(self, seed: int, xdr_start: date, xdr_days: int) -> None:
        self.seed = seed
        self.window_start = epoch_of(xdr_start)
        self.window_s = xdr_days * DAY_S

    @abstractmethod
    def ids(self, accounts: np.ndarray) -> np.ndarray:
        """Every xDR id of these accounts."""

    @abstractmethod
    def accounts_of(self, i_xdrs: np.ndarray) -> np.ndarray:
        """The account of each xDR id."""

    @abstractmethod
    def bill_times(self, i_xdrs: np.ndarray) -> np.ndarray:
        """Billing time (epoch) of each xDR id, inside the window."""

    def _seconds(self, i_xdrs: np.ndarray, span_s: int) -> np.ndarray:
        """A second in [0, span_s) for each id, from its hash."""
        return (key_hashes(self.seed, KIND_XDR, i_xdrs) % np.uint64(span_s)).astype(np.int64)


class PerAccount(XdrLayout):
    """`per` xDRs an account, ids `account * per + j`, billed anywhere in the window."""

    def __init__(self, seed: int, xdr_start: date, xdr_days: int, per: int) -> None:
        super().__init__(seed, xdr_start, xdr_days)
        self.per = per

    def ids(self, accounts: np.ndarray) -> np.ndarray:
        """`account * per + j` for j below `per`."""
        return (accounts[:, None] * self.per + np.arange(self.per, dtype=np.int64)[None, :]).ravel()

    def accounts_of(self, i_xdrs: np.ndarray) -> np.ndarray:
        """`i_xdr // per`."""
        return i_xdrs // self.per

    def bill_times(self, i_xdrs: np.ndarray) -> np.ndarray:
        """Anywhere in the window."""
        return self._seconds(i_xdrs, self.window_s) + self.window_start


class Skewed(XdrLayout):
    """A fixed count per account and day; ids run from 1, account after account, day after day."""

    def __init__(
        self, seed: int, xdr_start: date, xdr_days: int, keys: np.ndarray, daily: np.ndarray
    ) -> None:
        super().__init__(seed, xdr_start, xdr_days)
        self._keys, self._daily = keys, daily
        self._first_key = int(keys[0]) if len(keys) else 0
        self._ends = np.cumsum(daily * xdr_days)
        self._starts = self._ends - daily * xdr_days

    def ids(self, accounts: np.ndarray) -> np.ndarray:
        """The ids of each base account's run, in the order of `accounts`."""
        at = accounts - self._first_key
        at = at[(at >= 0) & (at < len(self._keys))]
        lengths = self._ends[at] - self._starts[at]
        run_starts = np.repeat(self._starts[at], lengths)
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return run_starts + within + 1

    def accounts_of(self, i_xdrs: np.ndarray) -> np.ndarray:
        """The account whose run holds each id."""
        return self._keys[self._runs(i_xdrs)]

    def bill_times(self, i_xdrs: np.ndarray) -> np.ndarray:
        """Each account's run is split into days of `daily` ids; a second of that day."""
        runs = self._runs(i_xdrs)
        days = (i_xdrs - 1 - self._starts[runs]) // self._daily[runs]
        return self.window_start + days * DAY_S + self._seconds(i_xdrs, DAY_S)

    def _runs(self, i_xdrs: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._ends, i_xdrs - 1, side="right")


def skewed(
    seed: int,
    xdr_start: date,
    xdr_days: int,
    per_day: int,
    keys: np.ndarray,
    owners: np.ndarray,
    customers: int,
) -> Skewed:
    """The skewed layout of `per_day` xDRs a day over accounts `keys` owned by `owners`."""
    owning = np.unique(owners)
    order = np.random.default_rng(seed).permutation(owning)
    heavy_n = min(len(order), max(1, round(customers * HEAVY_SHARE)))
    light_n = min(len(order) - heavy_n, round(customers * LIGHT_SHARE))
    light_total = per_day // 2 if light_n else 0
    per_customer = np.zeros(customers + 1, dtype=np.int64)
    per_customer[order[:heavy_n]] = _spread(per_day - light_total, heavy_n)
    per_customer[order[heavy_n : heavy_n + light_n]] = _spread(light_total, light_n)
    return Skewed(seed, xdr_start, xdr_days, keys, _per_account(owners, per_customer))


def _per_account(owners: np.ndarray, per_customer: np.ndarray) -> np.ndarray:
    """Each customer's count spread evenly over its accounts (the first ones get the remainder)."""
    order = np.argsort(owners, kind="stable")
    sorted_owners = owners[order]
    first_of_owner = np.searchsorted(sorted_owners, sorted_owners, side="left")
    last_of_owner = np.searchsorted(sorted_owners, sorted_owners, side="right")
    rank, size = np.arange(len(owners)) - first_of_owner, last_of_owner - first_of_owner
    totals = per_customer[sorted_owners]
    daily = np.empty(len(owners), dtype=np.int64)
    daily[order] = totals // size + (rank < totals % size)
    return daily


def _spread(total: int, parts: int) -> np.ndarray:
    """`total` in `parts` near-equal integers (the first ones one larger)."""
    if parts == 0:
        return np.zeros(0, dtype=np.int64)
    return total // parts + (np.arange(parts) < total % parts).astype(np.int64)


def xdr_layout(config: EmulatorConfig, keys: np.ndarray, owners: np.ndarray) -> XdrLayout:
    """The layout the config asks for, over the base accounts `keys` owned by `owners`."""
    start, days = config.xdr_start, config.xdr_days
    if config.xdrs_per_day is None:
        return PerAccount(config.seed, start, days, config.xdrs_per_account)
    return skewed(config.seed, start, days, config.xdrs_per_day, keys, owners, config.customers)
