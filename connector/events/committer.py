"""Group commit: one writer task stores concurrent events in one durable transaction."""

import asyncio

from connector.events.store import EventStore
from connector.events.types import Event

_Waiter = tuple[Event, "asyncio.Future[bool]"]


class GroupCommitter:
    """Serializes writes: each `submit` resolves once its event's transaction is committed.

    While one transaction (and its fsync) runs in a worker thread, new events queue up; the next
    transaction takes them all, so the fsync cost is shared by every concurrent request. Lives in
    one event loop.
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
        try:
            stored = await asyncio.to_thread(self._store.add_many, events)
        except Exception as exc:  # every waiter must hear about it; later batches still try
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), is_new in zip(batch, stored, strict=True):
            if not future.done():
                future.set_result(is_new)
