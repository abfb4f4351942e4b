"""Group commit: one writer task stores concurrent events in one durable transaction."""

import asyncio
import sqlite3

from connector.events.store import EventStore
from connector.events.types import Event

_Waiter = tuple[Event, "asyncio.Future[bool]"]
_Outcome = bool | Exception


class GroupCommitter:
    """Serializes writes: each `submit` resolves once its event's transaction is committed.

    While one transaction (and its fsync) runs in a worker thread, new events queue up; the next
    transaction takes them all, so the fsync cost is shared by every concurrent request. If that
    transaction fails for a reason one event may cause, the batch is stored again one event per
    transaction, so only the events that fail themselves fail. Lives in one event loop.
    """

    def __init__(self, store: EventStore, *, max_batch: int = 1000) -> None:
        self._store = store
        self._max_batch = max_batch
        self._waiting: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, event: Event) -> bool:
        """Store `event` durably; False if a duplicate. Raises what the store raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        """Commit batches until nothing is waiting."""
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Waiter]) -> None:
        events = [event for event, _ in batch]
        outcomes: list[_Outcome]
        try:
            outcomes = list(await asyncio.to_thread(self._store.add_many, events))
        except Exception as exc:  # every waiter must hear about it; later batches still try
            if len(batch) == 1 or _is_store_failure(exc):
                outcomes = [exc] * len(batch)
            else:
                outcomes = await asyncio.to_thread(self._add_each, events)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _add_each(self, events: list[Event]) -> list[_Outcome]:
        """Store events one transaction each; a failing event fails alone unless the store does."""
        outcomes: list[_Outcome] = []
        for event in events:
            try:
                outcomes.append(self._store.add(event))
            except Exception as exc:
                outcomes.append(exc)
                if _is_store_failure(exc):  # locked, full, closed: the rest would fail the same
                    return outcomes + [exc] * (len(events) - len(outcomes))
        return outcomes


def _is_store_failure(exc: Exception) -> bool:
    """Whether the store itself failed (any event would), as opposed to one event's content."""
    return isinstance(exc, sqlite3.OperationalError | sqlite3.ProgrammingError)
