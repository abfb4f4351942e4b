"""Step failures that name the table whose extraction failed."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from connector.api.errors import PortaBillingError


@contextmanager
def failing_for_table(table: str) -> Iterator[None]:
    """A PortaBilling error inside fails the step with a message naming `table` and the cause."""
    try:
        yield
    except PortaBillingError as error:
        raise dg.Failure(description=f"table {table}: {error}") from error
