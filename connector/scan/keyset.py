"""A compact set of int64 keys for de-duplicating pages (no Dagster).

A `set[int]` costs ~65 bytes a key (hash table plus int objects). `KeySet` costs at most ~8 (or
`dense_floor` bytes while it holds few keys), in one of two layouts:
- *byte map* while the keys are dense (ids from one sequence, in any order): one byte per id
  between the smallest and largest key seen, so 1 byte a key when every id is present and at
  most `BYTES_PER_KEY` when few are. Lookups are one gather, whatever the order of the ids.
- *sorted arrays* once the keys spread out: a big sorted int64 array of merged keys and a small
  sorted one of recent keys, merged into the big one at `merge_threshold` keys. A merge grows the
  array in place (`ndarray.resize`, a `realloc`) and lets a stable sort (timsort) join the two
  sorted runs, so it never needs a second copy of the set. A merge turns the set back into a byte
  map when that has become the smaller layout.
Every verb takes a whole batch of keys and works on it with numpy.
"""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

KeyArray = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]
DEFAULT_MERGE_THRESHOLD = 65_536
# A byte map may always span this many ids (1 MB), however few keys it holds yet: the first page
# of a list served in hash order already spans most of the ids.
DEFAULT_DENSE_FLOOR = 1 << 20
MIN_ROOM = 4096  # ids a byte map grows by at least, beyond the quarter of its span
BYTES_PER_KEY = 8  # what a key costs in the sorted arrays; the byte map must not cost more
_INT64 = np.iinfo(np.int64)


class KeyRangeError(ValueError):
    """A key does not fit in a signed 64-bit integer."""


def key_array(keys: Iterable[int], count: int = -1) -> KeyArray:
    """`keys` as an int64 array (`count`, when known, saves regrowing it)."""
    if isinstance(keys, np.ndarray) and keys.dtype == np.int64:
        return keys
    try:
        return np.fromiter(keys, np.int64, count)
    except OverflowError:
        raise KeyRangeError(
            f"a key is outside the int64 range [{_INT64.min}, {_INT64.max}]"
        ) from None


class KeySet:
    """Keys seen so far, in little memory; `add_new` and `contains_any` take whole batches."""

    def __init__(
        self,
        merge_threshold: int = DEFAULT_MERGE_THRESHOLD,
        dense_floor: int = DEFAULT_DENSE_FLOOR,
    ) -> None:
        if merge_threshold < 1:
            raise ValueError(f"merge_threshold must be >= 1, got {merge_threshold}")
        self.merge_threshold, self.dense_floor = merge_threshold, dense_floor
        self._count = 0
        self._span: tuple[int, int] | None = None  # the lowest and highest key held
        self._base = 0  # the key of marks[0]
        self._marks: npt.NDArray[np.uint8] | None = np.zeros(0, dtype=np.uint8)  # None: sorted
        self._merged = _empty()
        self._recent = _empty()

    def __len__(self) -> int:
        return self._count

    @property
    def is_dense(self) -> bool:
        """The keys are held as a byte map (else as sorted arrays)."""
        return self._marks is not None

    def contains_any(self, keys: Iterable[int]) -> bool:
        """At least one of `keys` is in the set."""
        batch = key_array(keys)
        if self._marks is not None:
            return bool(self._marked(batch).any())
        batch = np.sort(batch)  # recent keys first: the likeliest overlap
        return bool(_members(self._recent, batch).any() or _members(self._merged, batch).any())

    def add_new(self, keys: Iterable[int]) -> list[bool]:
        """Add `keys`; for each, whether it was new (a repeat inside the batch is not)."""
        batch = key_array(keys)
        if not len(batch):
            return []
        low, high = int(batch.min()), int(batch.max())
        if self._span is not None:
            low, high = min(low, self._span[0]), max(high, self._span[1])
        self._span = low, high
        if self._marks is not None and not self._cover(low, high, len(batch)):
            self._to_sorted()
        is_new = ~self._marked(batch) if self._marks is not None else ~self._sorted_members(batch)
        _keep_first_of_repeats(batch, is_new)
        self._insert(batch[is_new])
        return is_new.tolist()

    def _marked(self, batch: KeyArray) -> Flags:
        """Byte map: for each key, whether it is in the set."""
        assert self._marks is not None
        last = self._base + len(self._marks) - 1
        inside = (batch >= self._base) & (batch <= last)  # compare first: no overflow far away
        if inside.all():
            return self._marks[batch - self._base].view(np.bool_)
        found = np.zeros(len(batch), dtype=bool)
        found[inside] = self._marks[batch[inside] - self._base].view(np.bool_)
        return found

    def _sorted_members(self, batch: KeyArray) -> Flags:
        """Sorted arrays: for each key, whether it is in the set (searched in sorted order)."""
        order = batch.argsort()
        ordered = batch[order]
        found = np.empty(len(batch), dtype=bool)
        found[order] = _members(self._recent, ordered) | _members(self._merged, ordered)
        return found

    def _insert(self, fresh: KeyArray) -> None:
        """Add distinct keys that are not in the set yet."""
        self._count += len(fresh)
        if self._marks is not None:
            self._marks[fresh - self._base] = 1
            return
        self._recent = _merge(self._recent, np.sort(fresh))
        if len(self._recent) >= self.merge_threshold:
            self._merged = _merge(self._merged, self._recent)
            self._recent = _empty()
            self._maybe_to_dense()

    def _cover(self, low: int, high: int, incoming: int) -> bool:
        """Grow the byte map to span keys low..high; False when it would outgrow sorted arrays."""
        assert self._marks is not None
        start, end = self._base, self._base + len(self._marks)
        if start <= low and high < end:
            return True
        budget = self._dense_budget(self._count + incoming)
        if high - low + 1 > budget:
            return False
        if max(high, end - 1) - min(low, start) + 1 <= budget:  # keep the room already there
            low, high = min(low, start), max(high, end - 1)
        span = high - low + 1
        room = min(span // 4 + MIN_ROOM, budget - span)  # so growing ids do not copy every batch
        if high >= end:
            high = min(int(_INT64.max), high + room)
        else:
            low = max(int(_INT64.min), low - room)
        marks = np.zeros(high - low + 1, dtype=np.uint8)
        kept_start, kept_end = max(start, low), min(end, high + 1)  # outside: room, all zeros
        if kept_start < kept_end:
            marks[kept_start - low : kept_end - low] = self._marks[
                kept_start - start : kept_end - start
            ]
        self._marks, self._base = marks, low
        return True

    def _dense_budget(self, count: int) -> int:
        """The widest span of ids a byte map may cover for `count` keys."""
        return max(BYTES_PER_KEY * count, self.dense_floor)

    def _to_sorted(self) -> None:
        """Switch from the byte map to sorted arrays."""
        assert self._marks is not None
        self._merged = np.flatnonzero(self._marks).astype(np.int64) + self._base
        self._recent, self._marks = _empty(), None

    def _maybe_to_dense(self) -> None:
        """Switch to the byte map when the keys have become dense enough for it to be smaller."""
        assert self._span is not None
        low, high = self._span
        if high - low + 1 <= self._dense_budget(self._count):
            self._marks, self._base = np.zeros(high - low + 1, dtype=np.uint8), low
            self._marks[self._merged - low] = 1
            self._merged = _empty()


def _empty() -> KeyArray:
    return np.empty(0, dtype=np.int64)


def _keep_first_of_repeats(batch: KeyArray, is_new: Flags) -> None:
    """Of new keys repeated inside `batch`, keep only the first as new (in place)."""
    fresh = batch[is_new]
    ordered = np.sort(fresh)
    if not (ordered[1:] == ordered[:-1]).any():  # the usual case: no repeats, no stable sort
        return
    where = np.flatnonzero(is_new)
    _, first = np.unique(fresh, return_index=True)
    is_new[where] = False
    is_new[where[first]] = True


def _members(keys: KeyArray, queries: KeyArray) -> Flags:
    """For each of the sorted `queries`, whether the sorted `keys` hold it."""
    if not len(keys):
        return np.zeros(len(queries), dtype=bool)
    at = np.searchsorted(keys, queries)
    np.minimum(at, len(keys) - 1, out=at)
    return keys[at] == queries


def _merge(keys: KeyArray, more: KeyArray) -> KeyArray:
    """Sorted `keys` grown in place by the sorted, disjoint `more`."""
    size = len(keys)
    keys.resize(size + len(more), refcheck=False)  # we never hand out views of these arrays
    keys[size:] = more
    keys.sort(kind="stable")  # timsort: one merge of two sorted runs
    return keys
