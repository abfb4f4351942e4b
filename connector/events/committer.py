"""Group commit: one writer thread stores concurrent events in one durable transaction."""

import queue
import threading
from concurrent.futures import Future

from connector.events.store import EventStore
from connector.events.types import Event

_Item = tuple[Event, "Future[bool]"]


class CommitterClosed(RuntimeError):
    """The committer is stopping and takes no more events."""


class GroupCommitter:
    """Serializes writes: callers block in `submit` until their event's transaction is committed.

    While one transaction (and its fsync) is in flight, new events queue up; the writer then takes
    them all in the next transaction, so the fsync cost is shared by every concurrent request.
    """

    def __init__(self, store: EventStore, *, max_batch: int = 1000) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._closed = False
        self._closing = threading.Lock()  # nothing is queued behind the stop marker
        self._thread = threading.Thread(target=self._run, name="event-committer", daemon=True)
        self._thread.start()

    def submit(self, event: Event, timeout: float | None = None) -> bool:
        """Store `event` durably; False if a duplicate. Raises what the store raised."""
        future: Future[bool] = Future()
        with self._closing:
            if self._closed:
                raise CommitterClosed("the event committer is closed")
            self._queue.put((event, future))
        return future.result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._closing:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._commit(batch)

    def _next_batch(self) -> list[_Item] | None:
        """Block for one event, then take whatever else is already waiting; None once closed."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return batch

    def _commit(self, batch: list[_Item]) -> None:
        try:
            stored = self._store.add_many(event for event, _ in batch)
        except Exception as exc:  # every waiter must hear about it, and the writer must live on
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), is_new in zip(batch, stored, strict=True):
            future.set_result(is_new)
