"""List filters as the emulator applies them: SQL LIKE patterns on text, exact ids and codes.

A filter value that names nothing (an unknown number, status or customer) matches nothing.
"""

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from connector.emulator.records import (
    DERIVED_TEXT,
    FIRST_NAMES,
    FULL_NAMES,
    HASH_EXTRAS,
    HASH_FIRSTNAME,
    HASH_LASTNAME,
    KIND_ACCOUNT,
    LAST_NAMES,
    account_key,
    has_email,
    has_extension,
    hash_column,
    name_code,
)

ACCOUNT_TEXT_FILTERS = ("id", "login", "firstname", "lastname", "extension_name", "email")


class Like:
    """A SQL LIKE pattern: `%` any run, `_` any one character, `\\` escapes; case-insensitive."""

    def __init__(self, pattern: str) -> None:
        parts, literal = _translate(pattern)
        self._regex = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
        self.literal = literal

    def matches(self, value: Any) -> bool:
        """Whether a field value matches (a missing value never does)."""
        return value is not None and self._regex.fullmatch(str(value)) is not None


def _translate(pattern: str) -> tuple[list[str], str | None]:
    """Regex parts of a LIKE pattern, and its plain text when it has no wildcard."""
    parts: list[str] = []
    text: list[str] = []
    wild = escaped = False
    for char in pattern:
        if escaped or char not in "%_\\":
            parts.append(re.escape(char))
            text.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            parts.append(".*" if char == "%" else ".")
            wild = True
    return parts, None if wild else "".join(text)


@dataclass(frozen=True)
class AccountQuery:
    """The filters of one `Account/get_account_list` call (empty: every account)."""

    i_customer: int | None = None
    bill_status: str | None = None
    not_closed: bool = False
    texts: tuple[tuple[str, Like], ...] = ()

    @classmethod
    def of(cls, params: dict[str, Any], i_customer: int | None, not_closed: bool) -> "AccountQuery":
        """The query a call's params ask for (ids and flags already parsed by the caller)."""
        texts = tuple(
            (name, Like(str(params[name])))
            for name in ACCOUNT_TEXT_FILTERS
            if params.get(name) is not None
        )
        status = params.get("bill_status")
        return cls(i_customer, None if status is None else str(status), not_closed, texts)

    @property
    def is_empty(self) -> bool:
        """Whether the query selects every account."""
        return self == EVERY_ACCOUNT


EVERY_ACCOUNT = AccountQuery()


@dataclass(frozen=True)
class CustomerQuery:
    """The filters of one `Customer/get_customer_list` call (empty: every customer)."""

    name: Like | None = None
    i_main_customer: int | None = None
    i_office_type: int | None = None

    @property
    def is_empty(self) -> bool:
        """Whether the query selects every customer."""
        return self == EVERY_CUSTOMER

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a customer record passes every filter (`i_main_customer`: a branch's main)."""
        return (
            (self.name is None or self.name.matches(record.get("name")))
            and (
                self.i_main_customer is None or record.get("i_main_office") == self.i_main_customer
            )
            and (self.i_office_type is None or record.get("i_office_type") == self.i_office_type)
        )


EVERY_CUSTOMER = CustomerQuery()


def derived_matches(seed: int, name: str, like: Like, keys: np.ndarray) -> np.ndarray:
    """Which accounts' derived text field `name` (before any mutation) matches a pattern."""

    def column(at: int) -> np.ndarray:
        return hash_column(seed, KIND_ACCOUNT, keys, at)

    if name == "firstname":
        return _pool_matches(like, FIRST_NAMES, column(HASH_FIRSTNAME) % len(FIRST_NAMES))
    if name == "lastname":
        return _pool_matches(like, LAST_NAMES, column(HASH_LASTNAME) % len(LAST_NAMES))
    if name == "extension_name":
        codes = name_code(column(HASH_FIRSTNAME), column(HASH_LASTNAME))
        return has_extension(column(HASH_EXTRAS)) & _pool_matches(like, FULL_NAMES, codes)
    matches = _key_text_matches(name, like, keys)
    return has_email(column(HASH_EXTRAS)) & matches if name == "email" else matches


def _pool_matches(like: Like, pool: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    """Match each pool entry once, then look the codes up."""
    return np.array([like.matches(text) for text in pool])[codes.astype(np.int64)]


def _key_text_matches(name: str, like: Like, keys: np.ndarray) -> np.ndarray:
    """Match a field derived from the key alone; plain text needs no string per key."""
    if like.literal is not None and name != "email":
        return keys == account_key(name, like.literal.lower())
    text = DERIVED_TEXT[name]
    return np.fromiter((like.matches(text(key)) for key in keys.tolist()), bool, len(keys))
