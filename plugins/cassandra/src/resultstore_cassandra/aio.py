"""asyncio reads on the driver's own futures: no thread per call.

``session.execute_async`` returns a ``ResponseFuture`` completed on the driver's event-loop
thread; :func:`wait` hands its rows to the asyncio loop with ``call_soon_threadsafe`` (and
fetches further pages the same way), so a coroutine awaits the request without blocking
the loop or borrowing a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from resultstore.spec import AsyncMetaStore

if TYPE_CHECKING:
    from .store import CassandraStore

__all__ = ["AsyncCassandraStore", "wait"]


def _settle(waiter: asyncio.Future[Any], value: Any, failed: bool) -> None:
    if waiter.done():
        return
    if failed:
        waiter.set_exception(value)
    else:
        waiter.set_result(value)


def wait(response: Any) -> asyncio.Future[list[Any]]:
    """An asyncio future of every row of a driver ``ResponseFuture`` (all pages)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[list[Any]] = loop.create_future()
    rows: list[Any] = []

    def hand_over(value: Any, failed: bool) -> None:
        try:
            loop.call_soon_threadsafe(_settle, waiter, value, failed)
        except RuntimeError:  # the loop closed while the request was in flight
            pass

    def on_page(page: Any) -> None:
        rows.extend(page or ())
        if response.has_more_pages:
            response.start_fetching_next_page()  # the callbacks fire again for it
        else:
            hand_over(rows, False)

    response.add_callbacks(on_page, lambda exc: hand_over(exc, True))
    return waiter


class AsyncCassandraStore(AsyncMetaStore):
    """The asyncio twin of :class:`~resultstore_cassandra.store.CassandraStore` (reads)."""

    def __init__(self, store: CassandraStore) -> None:
        self.store = store

    async def _rows(self, task_id: str) -> list[Any]:
        store = self.store  # connects on first use (a blocking step, once per process)
        return await wait(store.run_async(store.statement(store._select(), write=False), (task_id,)))

    async def get_meta(self, task_id: str) -> dict[str, Any] | None:
        return self.store._meta(str(task_id), await self._rows(str(task_id)))

    async def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        from .store import CONCURRENCY

        ids = list(dict.fromkeys(str(t) for t in task_ids))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(task_id: str) -> list[Any]:
            async with gate:
                return await self._rows(task_id)

        found = {}
        for task_id, rows in zip(ids, await asyncio.gather(*map(one, ids)), strict=True):
            meta = self.store._meta(task_id, rows)
            if meta is not None:
                found[task_id] = meta
        return found
