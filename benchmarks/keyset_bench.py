"""Micro-benchmark: the seen-key set of paging, `set[int]` (before) vs `KeySet` (now).

Run: ``python benchmarks/keyset_bench.py [--keys 1000000] [--page 1000] [--rounds 5]``.
Pages are laid out like `ListScan`'s: `--page` new keys, each page after the first reaching back
over the last `overlap` keys of the one before (2%, the default overlap), so every page carries
duplicates. Keys come dense (0..n-1 in order), shuffled (the same ids in random order, like the
emulator's hash order) or sparse (random 62-bit ids: `KeySet` keeps sorted arrays), each page's
keys fresh int objects, as decoded from JSON. Memory: tracemalloc peak while the set
fills, and what it holds at the end. CPU: `time.process_time`, best of `--rounds`, for
- dedup: the old per-key loop of `_emit` vs `KeySet.add_new` (list -> flags -> kept rows);
- scan: everything `ListScan` does with the keys of a page: before, a frozenset per window and
  `isdisjoint` against the set plus the loop; now, the key array, `contains_any` and `add_new`.
"""

import argparse
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sized
from itertools import compress

import numpy as np

from connector.scan.keyset import KeySet, key_array
from connector.scan.paging import default_overlap

Pages = Callable[[], Iterator[list[int]]]


def page_maker(ids: np.ndarray, page: int) -> Pages:
    """Pages of fresh ints over `ids`, overlapping like ListScan's."""
    overlap = default_overlap(page)

    def pages() -> Iterator[list[int]]:
        for start in range(0, len(ids), page):
            yield ids[max(0, start - overlap) : start + page].tolist()

    return pages


def fill_set(pages: Pages) -> set[int]:
    """The old `_emit` loop; returns the filled set."""
    seen: set[int] = set()
    kept = duplicates = 0
    for keys in pages():
        fresh = []
        for key in keys:
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            fresh.append(key)
        kept += len(fresh)
    assert kept == len(seen)
    return seen


def fill_keyset(pages: Pages) -> KeySet:
    """`KeySet.add_new` and `compress`, as `_emit` does now; returns the filled set."""
    seen = KeySet()
    kept = duplicates = 0
    for keys in pages():
        fresh = list(compress(keys, seen.add_new(keys)))
        duplicates += len(keys) - len(fresh)
        kept += len(fresh)
    assert kept == len(seen)
    return seen


def scan_set(pages: Pages) -> int:
    """Before: frozenset per window, the link test, then the loop."""
    seen: set[int] = set()
    kept = 0
    for keys in pages():
        window = frozenset(keys)
        if seen and window.isdisjoint(seen):
            raise AssertionError("unlinked page")
        for key in keys:
            if key not in seen:
                seen.add(key)
                kept += 1
    return kept


def scan_keyset(pages: Pages) -> int:
    """Now: the window's key array, `contains_any` for the link, `add_new` for the rows."""
    seen = KeySet()
    kept = 0
    for keys in pages():
        window = key_array(iter(keys), len(keys))
        if len(seen) and not seen.contains_any(window):
            raise AssertionError("unlinked page")
        kept += len(list(compress(keys, seen.add_new(window))))
    return kept


def memory_mb(fill: Callable[[Pages], Sized], pages: Pages) -> tuple[float, float]:
    """(peak, held once full) MB of tracemalloc while `fill` fills its set."""
    tracemalloc.start()
    try:
        seen = fill(pages)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen)
    return peak / 1e6, held / 1e6


def cpu_s(run: Callable[[Pages], object], pages: Pages, rounds: int) -> float:
    """Best CPU seconds of `rounds` runs."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        run(pages)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    dense = np.arange(args.keys, dtype=np.int64)
    rng = np.random.default_rng(7)
    spread = rng.permutation(np.unique(rng.integers(0, 2**62, args.keys + args.keys // 100)))
    layouts = {
        "dense": dense,
        "shuffled": rng.permutation(dense),
        "sparse": spread[: args.keys],
    }
    print(f"{args.keys:,} keys, pages of {args.page:,} new keys")
    print("| ids | set[int] peak / held MB | KeySet peak / held MB |", end="")
    print(" dedup CPU s set / KeySet | scan CPU s set / KeySet |")
    for name, ids in layouts.items():
        pages = page_maker(ids, args.page)
        kept = len(fill_set(pages))
        assert kept == len(fill_keyset(pages)) == scan_set(pages) == scan_keyset(pages)
        old_mem, new_mem = memory_mb(fill_set, pages), memory_mb(fill_keyset, pages)
        dedup = cpu_s(fill_set, pages, args.rounds), cpu_s(fill_keyset, pages, args.rounds)
        scan = cpu_s(scan_set, pages, args.rounds), cpu_s(scan_keyset, pages, args.rounds)
        print(
            f"| {name} | {old_mem[0]:.1f} / {old_mem[1]:.1f} | {new_mem[0]:.1f} / {new_mem[1]:.1f}"
            f" | {dedup[0]:.3f} / {dedup[1]:.3f} | {scan[0]:.3f} / {scan[1]:.3f} |"
        )


if __name__ == "__main__":
    main()
