"""Decoding a delivery body strictly: UTF-8, standard JSON, bounded depth and size of numbers."""

import json
import math
import re

from connector.events.types import InvalidEvent

MAX_DEPTH = 32  # ESPF sends flat variables; deeper nesting is a mistake or an attack
MAX_INT_DIGITS = 100  # no id, amount or code comes near; Python refuses 4,300 with a traceback
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a valid pair decodes to one code point


def decode_body(body: bytes) -> object:
    """The JSON value of a body; `InvalidEvent` with the reason for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"malformed JSON: not UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_bounded_int
        )
    except RecursionError:
        raise InvalidEvent(f"malformed JSON: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    _check_tree(value)
    return value


def _refuse_constant(name: str) -> float:
    raise InvalidEvent(f"malformed JSON: {name} is not standard JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidEvent("malformed JSON: a number is out of range")
    return number


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidEvent(f"malformed JSON: a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _check_tree(value: object) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` and text with lone surrogates (keys included)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str) and _LONE_SURROGATE.search(item):
            raise InvalidEvent("malformed JSON: text with a lone surrogate (\\ud800-\\udfff)")
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidEvent(f"malformed JSON: nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
