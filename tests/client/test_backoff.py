"""The retry delay: exponential backoff with full jitter and a cap; Retry-After wins."""

import pytest

from connector.api.client import parse_retry_after, retry_delay


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [(0, 1.0, 0.5), (1, 1.0, 1.0), (3, 1.0, 4.0), (3, 0.5, 2.0), (10, 1.0, 30.0), (10, 0.0, 0.0)],
)
def test_exponential_full_jitter_capped(attempt: int, rand: float, expected: float) -> None:
    assert retry_delay(attempt, None, base=0.5, cap=30.0, rand=lambda: rand) == expected


def test_retry_after_overrides_backoff() -> None:
    assert retry_delay(0, 7.0, base=0.5, cap=30.0, rand=lambda: 1.0) == 7.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(header, now) == expected
