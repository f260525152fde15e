"""``AsyncCouchbaseStore``: the store's asyncio twin on the SDK's ``acouchbase`` API.

One ``acouchbase`` cluster connection per event loop (the SDK binds it to the loop it was
opened on), opened on first use.  ``acouchbase`` has no ``get_multi``: ``mget`` sends the gets
concurrently (at most :data:`IN_FLIGHT` at a time) on that connection, which is what the sync
``get_multi`` does inside the SDK.  Documents, payloads and expiry are the sync store's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from couchbase import exceptions as cb
from couchbase.options import UpsertOptions

from resultstore.spec import AsyncKeyValueStore

from .payload import TRANSCODER

if TYPE_CHECKING:
    from .store import CouchbaseStore

__all__ = ["AsyncCouchbaseStore", "IN_FLIGHT"]

#: Gets in flight at once in ``mget``.
IN_FLIGHT = 100


class AsyncCouchbaseStore(AsyncKeyValueStore):
    """Reads and writes through ``acouchbase``; same documents as :class:`CouchbaseStore`."""

    def __init__(self, store: CouchbaseStore) -> None:
        self.store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cluster: Any = None
        self._collection: Any = None
        self._lock: asyncio.Lock | None = None

    async def collection(self) -> Any:
        """This loop's collection (the cluster is connected on first use in each loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._cluster, self._collection, self._lock = loop, None, None, asyncio.Lock()
        if self._collection is None:
            assert self._lock is not None
            async with self._lock:
                if self._collection is None:
                    await self._connect()
        return self._collection

    async def _connect(self) -> None:
        from acouchbase import cluster as cluster_module

        from .store import cluster_options

        config = self.store.config
        cluster = await cluster_module.Cluster.connect(config.connstr, cluster_options(config))
        try:
            bucket = cluster.bucket(config.bucket)
            await bucket.on_connect()
            self._collection = bucket.scope(config.scope).collection(config.collection)
        except BaseException:
            await cluster.close()
            raise
        self._cluster = cluster

    async def get(self, key: str) -> bytes | None:
        collection = await self.collection()
        try:
            result = await collection.get(key)  # the cluster's default transcoder: TRANSCODER
        except cb.DocumentNotFoundException:
            return None
        value: bytes = result.value
        return value

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        unique = list(dict.fromkeys(keys))
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def one(key: str) -> bytes | None:
            async with limit:
                return await self.get(key)

        found = dict(zip(unique, await asyncio.gather(*(one(key) for key in unique)), strict=True))
        return [found[key] for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        from .store import expiry

        collection = await self.collection()
        await collection.upsert(key, bytes(value), UpsertOptions(expiry=expiry(ttl), transcoder=TRANSCODER))

    async def delete(self, key: str) -> None:
        collection = await self.collection()
        try:
            await collection.remove(key)
        except cb.DocumentNotFoundException:
            pass

    async def aclose(self) -> None:
        cluster, self._cluster, self._collection = self._cluster, None, None
        if cluster is not None and self._loop is asyncio.get_running_loop():
            await cluster.close()
