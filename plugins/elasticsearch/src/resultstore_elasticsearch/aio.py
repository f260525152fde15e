"""The asyncio twin on ``AsyncElasticsearch`` (aiohttp): same documents, same requests.

An aiohttp session belongs to the event loop that opened it, so the twin keeps one client
per loop, closed when that loop shuts down (through an async generator, which
``asyncio.run`` closes in ``loop.shutdown_asyncgens()``) or by ``await astore.aclose()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

from elasticsearch import AsyncElasticsearch, NotFoundError

from resultstore.spec import AsyncKeyValueStore

from .documents import value_of
from .store import client_options

if TYPE_CHECKING:
    from .store import ElasticsearchStore

__all__ = ["AsyncElasticsearchStore"]


class AsyncElasticsearchStore(AsyncKeyValueStore):
    """``get``/``mget``/``set``/``delete`` of :class:`ElasticsearchStore`, awaitable.

    ::

        astore = store.aio()
        assert await astore.get("celery-task-meta-<id>") is not None
        await astore.aclose()
    """

    def __init__(self, store: ElasticsearchStore) -> None:
        self.store = store
        self.index = store.index
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop,
                            tuple[AsyncElasticsearch, AsyncGenerator[None, None]]] = {}

    async def _client(self) -> AsyncElasticsearch:
        """The client of the running loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        client = AsyncElasticsearch(self.store.config.node, **client_options(self.store.config))
        lifetime = self._lifetime(loop, client)
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = (client, lifetime)
        await lifetime.__anext__()  # registered with the loop: closed at its shutdown
        return client

    async def _lifetime(self, loop: asyncio.AbstractEventLoop,
                        client: AsyncElasticsearch) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                mine = self._clients.get(loop, (None,))[0] is client
                if mine:
                    del self._clients[loop]
            if mine:  # else aclose() already closed it
                await client.close()

    async def get(self, key: str) -> bytes | None:
        try:
            response = await (await self._client()).get(index=self.index, id=key)
        except NotFoundError:
            return None
        return value_of(response.body.get("_source")) if response.body.get("found") else None

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            client = await self._client()
            response = await client.mget(index=self.index, ids=list(dict.fromkeys(keys)))
        except NotFoundError:
            return [None] * len(keys)
        found = {doc["_id"]: doc.get("_source") for doc in response.body["docs"]
                 if doc.get("found")}
        return [value_of(found[key]) if key in found else None for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        body = self.store.source(value, ttl)
        await (await self._client()).index(index=self.index, id=key, document=body)

    async def delete(self, key: str) -> None:
        try:
            await (await self._client()).delete(index=self.index, id=key)
        except NotFoundError:
            pass

    async def aclose(self) -> None:
        """Close the client of the running loop."""
        with self._lock:
            entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            client, lifetime = entry
            await client.close()
            await lifetime.aclose()
