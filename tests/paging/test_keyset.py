"""KeySet: new vs duplicate keys within and across batches, in both layouts and across merges."""

import numpy as np
import pytest

from connector.scan.keyset import KeyRangeError, KeySet, key_array

SPARSE = [10**12 * k for k in range(1, 20)]  # far apart: never a byte map


@pytest.fixture(params=["dense", "sorted"])
def keys(request: pytest.FixtureRequest) -> list[int]:
    """Twenty keys the set holds as a byte map (dense) or as sorted arrays (spread out)."""
    return list(range(100, 120)) if request.param == "dense" else [*SPARSE, 7]


def test_keys_of_a_first_batch_are_all_new(keys: list[int]) -> None:
    seen = KeySet()
    assert seen.add_new(keys) == [True] * len(keys)
    assert seen.is_dense == (keys == list(range(100, 120)))  # the layout the fixture names


def test_keys_of_an_earlier_batch_are_duplicates(keys: list[int]) -> None:
    seen = KeySet()
    seen.add_new(keys[:10])
    assert seen.add_new(keys[5:15]) == [False] * 5 + [True] * 5


def test_a_repeat_inside_a_batch_is_new_only_the_first_time(keys: list[int]) -> None:
    a, b, c = keys[:3]
    assert KeySet().add_new([b, a, b, c, a, b]) == [True, True, False, True, False, False]


def test_a_repeat_of_an_old_key_inside_a_batch_is_never_new(keys: list[int]) -> None:
    seen = KeySet()
    seen.add_new(keys[:1])
    assert seen.add_new([keys[0], keys[1], keys[0]]) == [False, True, False]


def test_duplicates_are_found_across_merges() -> None:
    seen = KeySet(merge_threshold=3)
    for batch in ([SPARSE[0]], SPARSE[1:3], SPARSE[3:4], SPARSE[4:9]):  # merges at 3 and 9 keys
        assert seen.add_new(batch) == [True] * len(batch)
    assert seen.add_new(SPARSE[:12]) == [False] * 9 + [True] * 3
    assert not seen.is_dense


def test_len_counts_distinct_keys(keys: list[int]) -> None:
    seen = KeySet(merge_threshold=4)
    seen.add_new(keys[:6] + keys[:2])
    seen.add_new(keys[4:9])
    assert len(seen) == 9


def test_contains_any_is_true_when_one_key_was_added(keys: list[int]) -> None:
    seen = KeySet(merge_threshold=2)
    seen.add_new(keys[:5])
    assert seen.contains_any([keys[10], keys[3], keys[11]])
    assert not seen.contains_any(keys[5:])
    assert not seen.contains_any([])


def test_contains_any_of_keys_far_outside_a_byte_map_is_false() -> None:
    seen = KeySet()
    seen.add_new([2**63 - 1])
    assert not seen.contains_any([-(2**63), 0, 2**63 - 2])
    assert seen.contains_any([2**63 - 1])


def test_the_extreme_int64_keys_are_kept() -> None:
    seen = KeySet()
    assert seen.add_new([-(2**63), 2**63 - 1]) == [True, True]
    assert seen.add_new([2**63 - 1, -(2**63), 0]) == [False, False, True]


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, 10**30])
def test_a_key_outside_int64_is_refused(key: int) -> None:
    with pytest.raises(KeyRangeError, match="outside the int64 range"):
        KeySet().add_new([1, key])


def test_a_byte_map_turns_into_sorted_arrays_when_keys_spread_out() -> None:
    seen = KeySet(dense_floor=0)
    seen.add_new(range(1000))
    assert seen.is_dense
    seen.add_new([10**9, 5, 10**9 + 1])
    assert not seen.is_dense
    assert seen.add_new([10**9, 999, 1000]) == [False, False, True]
    assert len(seen) == 1003


def test_sorted_arrays_turn_back_into_a_byte_map_once_keys_fill_the_span() -> None:
    seen = KeySet(merge_threshold=100, dense_floor=0)
    seen.add_new([0, 10_000])
    assert not seen.is_dense
    seen.add_new(range(1, 2000))
    assert seen.is_dense
    assert seen.add_new([0, 1999, 10_000, 2000]) == [False, False, False, True]


def test_keys_in_any_order_match_a_python_set() -> None:
    rng = np.random.default_rng(5)
    seen, expected = KeySet(merge_threshold=500, dense_floor=0), set()
    for _ in range(30):
        batch = rng.integers(0, rng.choice([2_000, 10**6]), 300).tolist()
        flags = []
        for key in batch:
            flags.append(key not in expected)
            expected.add(key)
        assert seen.add_new(batch) == flags
    assert len(seen) == len(expected)


def test_a_merge_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="merge_threshold"):
        KeySet(merge_threshold=0)


def test_key_array_keeps_an_int64_array_and_converts_a_list() -> None:
    array = np.arange(3, dtype=np.int64)
    assert key_array(array) is array
    assert key_array([4, 5]).tolist() == [4, 5]
