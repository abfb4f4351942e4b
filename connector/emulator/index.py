"""A list order that is stable but not by key: entities sorted by a hash of their key.

Creations and deletions land at pseudo-random positions, so offsets shift in both directions
while the relative order of survivors never changes, like the production paging bug.
"""

import numpy as np

from connector.emulator.records import KIND_ORDER, key_hashes


class OrderedIndex:
    """Keys in hash order with parallel integer columns (owner, status code, ...)."""

    def __init__(self, seed: int, keys: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self._seed = seed
        hashes = key_hashes(seed, KIND_ORDER, keys)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.keys = keys.astype(np.int64)[order]
        self.columns = {name: values[order] for name, values in columns.items()}
        self.generation = 0

    def __len__(self) -> int:
        return len(self.keys)

    def _hash(self, key: int) -> np.uint64:
        return key_hashes(self._seed, KIND_ORDER, np.array([key], dtype=np.int64))[0]

    def position(self, key: int) -> int | None:
        """Where `key` sits in the list, or None when it is not there."""
        at = int(np.searchsorted(self.hashes, self._hash(key)))
        return at if at < len(self.keys) and self.keys[at] == key else None

    def __contains__(self, key: int) -> bool:
        return self.position(key) is not None

    def insert(self, key: int, values: dict[str, int]) -> None:
        """Add `key` at its hash position with its column values."""
        digest = self._hash(key)
        at = int(np.searchsorted(self.hashes, digest))
        self.hashes = np.insert(self.hashes, at, digest)
        self.keys = np.insert(self.keys, at, key)
        for name, column in self.columns.items():
            self.columns[name] = np.insert(column, at, values[name])
        self.generation += 1

    def remove(self, key: int) -> bool:
        """Drop `key`; False when it was not there."""
        at = self.position(key)
        if at is None:
            return False
        self.hashes = np.delete(self.hashes, at)
        self.keys = np.delete(self.keys, at)
        for name, column in self.columns.items():
            self.columns[name] = np.delete(column, at)
        self.generation += 1
        return True

    def set_value(self, key: int, name: str, value: int) -> None:
        """Change one column value of a present key."""
        at = self.position(key)
        if at is not None:
            self.columns[name][at] = value
            self.generation += 1

    def value(self, key: int, name: str) -> int:
        """One column value of a present key."""
        at = self.position(key)
        if at is None:
            raise KeyError(key)
        return int(self.columns[name][at])
