"""The asyncio twin of :class:`~resultstore_mongodb.store.MongoStore`'s reads, on pymongo's
native ``AsyncMongoClient`` (pymongo >= 4.9; no threads, no Motor).

One ``AsyncMongoClient`` per event loop (a client belongs to the loop it first ran on),
created lazily from the store's configuration and closed by :meth:`aclose`.  Documents
are decoded exactly as by the sync store (expired ones hidden).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pymongo

from resultstore.spec import AsyncMetaStore

if TYPE_CHECKING:
    from .store import MongoStore

__all__ = ["AsyncMongoStore"]


class AsyncMongoStore(AsyncMetaStore):
    """Batched ``find`` / ``find_one`` through ``AsyncMongoClient``."""

    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary())

    def _collection(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = pymongo.AsyncMongoClient(
                **self.store.config.client_kwargs())
        return client[self.store.config.database][self.store.config.taskmeta_collection]

    async def get_meta(self, task_id: str) -> dict[str, Any] | None:
        document = await self._collection().find_one({"_id": str(task_id)})
        return self.store._meta(document, self.store.clock())

    async def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        from .store import BATCH_SIZE

        ids = list(dict.fromkeys(str(t) for t in task_ids))
        found: dict[str, dict[str, Any]] = {}
        collection, now = self._collection(), self.store.clock()
        for start in range(0, len(ids), BATCH_SIZE):
            async for document in collection.find({"_id": {"$in": ids[start:start + BATCH_SIZE]}}):
                meta = self.store._meta(document, now)
                if meta is not None:
                    found[document["_id"]] = meta
        return found

    async def aclose(self) -> None:
        """Close the client of the running loop (clients of other loops close with them)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()
