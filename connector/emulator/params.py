"""Parsing a call's params the way the server does: ids, paging, flags and UTC datetimes."""

import calendar
import time
from typing import Any

from connector.emulator.faults import invalid_date, invalid_param

Params = dict[str, Any]


def optional_int(params: Params, name: str, method: str) -> int | None:
    """An integer param (an int or a string of digits), None when absent."""
    value = params.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).lstrip("-").isdigit()
    ):
        raise invalid_param(method, f"{name} must be an integer")
    return int(value)


def required_int(params: Params, name: str, method: str) -> int:
    """An integer param that must be there."""
    value = optional_int(params, name, method)
    if value is None:
        raise invalid_param(method, f"{name} is required")
    return value


def paging(params: Params, method: str) -> tuple[int, int | None]:
    """`offset` (default 0) and `limit` (None: the rest)."""
    offset = optional_int(params, "offset", method) or 0
    limit = optional_int(params, "limit", method)
    if offset < 0 or (limit is not None and limit < 0):
        raise invalid_param(method, "limit and offset must be >= 0")
    return offset, limit


def flag(params: Params, name: str) -> bool:
    """Whether a 1/0 or Y/N request flag is set."""
    return params.get(name) in (1, "1", True, "Y")


def date_range(params: Params, method: str) -> tuple[int | None, int | None]:
    """`from_date` (inclusive) and `to_date` (exclusive) as epoch seconds, UTC."""
    return epoch(params, "from_date", method), epoch(params, "to_date", method)


def epoch(params: Params, name: str, method: str) -> int | None:
    """A `YYYY-MM-DD HH:MM:SS` UTC param as epoch seconds, None when absent."""
    value = params.get(name)
    if value is None:
        return None
    try:
        return calendar.timegm(time.strptime(str(value), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        raise invalid_date(method, name) from None


def with_total(
    answer: dict[str, Any], total: int, params: Params, as_string: bool
) -> dict[str, Any]:
    """The answer with `total` when `get_total` asked for it (a string when `as_string`)."""
    if flag(params, "get_total"):
        answer["total"] = str(total) if as_string else total
    return answer
