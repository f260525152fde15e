"""The asyncio twin on ``azure.cosmos.aio`` (aiohttp): same items, same requests.

An aiohttp session belongs to the event loop that opened it, so the twin keeps one client
per loop, closed when that loop shuts down (through an async generator, which
``asyncio.run`` closes in ``loop.shutdown_asyncgens()``) or by ``await astore.aclose()``.
The database and container are not looked up first: a 404 on a read means nothing is stored
either way, and a write that meets a missing container has the sync store set them up (in a
worker thread) and writes again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

import aiohttp  # noqa: F401  (imported here, with the store: see store.py)
from azure.core.pipeline.transport import AioHttpTransport  # noqa: F401
from azure.cosmos.aio import ContainerProxy, CosmosClient
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from resultstore.spec import AsyncKeyValueStore

from .documents import body, doc_id, value_of

if TYPE_CHECKING:
    from .store import CosmosStore

__all__ = ["AsyncCosmosStore"]


class AsyncCosmosStore(AsyncKeyValueStore):
    """``get``/``mget``/``set``/``delete`` of :class:`CosmosStore`, awaitable.

    ::

        astore = store.aio()
        assert await astore.get("celery-task-meta-<id>") is not None
        await astore.aclose()
    """

    def __init__(self, store: CosmosStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop,
                            tuple[CosmosClient, ContainerProxy, AsyncGenerator[None, None]]] = {}

    async def _container(self) -> ContainerProxy:
        """The container client of the running loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[1]
        config = self.store.config
        client = CosmosClient(config.endpoint, credential=config.key, **config.client_options())
        container = client.get_database_client(config.database).get_container_client(
            config.collection)
        lifetime = self._lifetime(loop, client)
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = (client, container, lifetime)
        await lifetime.__anext__()  # registered with the loop: closed at its shutdown
        return container

    async def _lifetime(self, loop: asyncio.AbstractEventLoop,
                        client: CosmosClient) -> AsyncGenerator[None, None]:
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
        item_id = doc_id(key)
        try:
            item = await (await self._container()).read_item(item_id, partition_key=item_id)
        except CosmosResourceNotFoundError:
            return None
        return value_of(dict(item))

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        ids = list(dict.fromkeys(doc_id(k) for k in keys))
        if not ids:
            return []
        try:
            found = await (await self._container()).read_items([(i, i) for i in ids])
        except CosmosResourceNotFoundError:  # no container yet
            return [None] * len(keys)
        by_id = {item["id"]: dict(item) for item in found
                 if isinstance(item, dict) and isinstance(item.get("id"), str)}
        return [value_of(by_id.get(doc_id(key))) for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        item = body(key, value, ttl)
        try:
            await (await self._container()).upsert_item(item, no_response=True)
        except CosmosResourceNotFoundError:  # no database or container yet: set them up
            await asyncio.to_thread(lambda: self.store.container)
            await (await self._container()).upsert_item(item, no_response=True)

    async def delete(self, key: str) -> None:
        item_id = doc_id(key)
        try:
            await (await self._container()).delete_item(item_id, partition_key=item_id)
        except CosmosResourceNotFoundError:
            pass

    async def aclose(self) -> None:
        """Close the client of the running loop."""
        with self._lock:
            entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            client, _, lifetime = entry
            await client.close()
            await lifetime.aclose()
