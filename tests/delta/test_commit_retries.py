"""A conflicting Delta commit re-runs its operation with capped backoff, at most so many times."""

import pytest
from deltalake.exceptions import CommitFailedError

from connector.store.delta import retry_conflicts


class Conflicts:
    """An operation whose first `failures` commits conflict."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise CommitFailedError("a concurrent transaction deleted data this operation read")
        return "committed"


def test_conflicts_rerun_the_operation_with_growing_capped_waits():
    waits: list[float] = []
    operation = Conflicts(failures=7)

    result = retry_conflicts(operation, sleep=waits.append, rand=lambda: 1.0)

    assert (result, operation.calls) == ("committed", 8)
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


def test_retries_are_bounded():
    waits: list[float] = []
    operation = Conflicts(failures=100)

    with pytest.raises(CommitFailedError):
        retry_conflicts(operation, sleep=waits.append, rand=lambda: 1.0, attempts=4)

    assert operation.calls == 4 and len(waits) == 3


def test_other_errors_are_not_retried():
    def broken() -> str:
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        retry_conflicts(broken, sleep=pytest.fail, rand=lambda: 1.0)
