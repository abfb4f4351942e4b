"""KeyTally: the key check's counts, kept batch by batch."""

import pyarrow as pa

from connector.sync.extract import KeyStats, KeyTally


def tally(*batches: list[int | None]) -> KeyStats:
    keys = KeyTally()
    for batch in batches:
        keys.add(pa.array(batch, pa.int64()))
    return keys.stats()


def test_repeats_across_batches_count_once_and_nulls_are_counted():
    assert tally([1, 2, None], [2, 3], [None]) == KeyStats(nulls=2, distinct=3)


def test_a_repeat_inside_one_batch_counts_once():
    assert tally([5, 5, 6]) == KeyStats(nulls=0, distinct=2)


def test_ids_far_apart_are_counted_exactly():
    far = [1, 2**40, -(2**62), 2**62, 2**40]
    assert tally(far[:3], far[3:]) == KeyStats(nulls=0, distinct=4)


def test_no_batches_means_no_keys():
    assert tally() == KeyStats(nulls=0, distinct=0)
