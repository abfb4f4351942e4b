"""Which field names carry credentials, and values with those fields removed (no dependencies).

One rule for everything we write: the tables (`connector.store.tables`, `connector.store.arrowio`)
and the event store (`connector.events.store`) drop the same fields.
"""

from collections.abc import Callable, Iterable
from typing import Any

SECRET_WORDS = ("password", "token", "secret")
COMMON_SECRETS = frozenset({"password", "h323_password", "api_token", "session_id"})


def looks_secret_by_word(name: str) -> bool:
    """Whether a field name contains a credential word (password, token, secret)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def looks_secret(name: str) -> bool:
    """Whether a field name suggests a credential, whatever table it is in."""
    return name.lower() in COMMON_SECRETS or looks_secret_by_word(name)


def secret_markers(names: Iterable[str] = COMMON_SECRETS) -> tuple[str, ...]:
    """Lower-case texts that every secret field name contains (to skip clean values fast)."""
    named = {name.lower() for name in names if not looks_secret_by_word(name)}
    return (*SECRET_WORDS, *sorted(named))


def without_secrets(value: Any, is_secret: Callable[[str], bool] = looks_secret) -> Any:
    """A copy of a nested value with every secret-named key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v, is_secret) for k, v in value.items() if not is_secret(k)}
    if isinstance(value, list):
        return [without_secrets(v, is_secret) for v in value]
    return value
