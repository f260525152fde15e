"""The ``redis.asyncio`` twin of :class:`~resultstore_redis.store.RedisStore`.

Same names, same wire format, awaitable.  A ``redis.asyncio`` connection
belongs to the event loop that opened it, so the twin keeps one client per
loop.  Each client is closed when its loop shuts down (it is tied to the loop
through an async generator, which ``asyncio.run`` and every well-behaved
runner close in ``loop.shutdown_asyncgens()``), or by ``await astore.aclose()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

import redis.exceptions

from resultstore.spec import AsyncKeyValueStore

from .clients import async_client
from .scripts import GUARDED_SET, STORE
from .store import _check_size, _px
from .wrongtype import is_wrong_type, mget_commands, raise_wrong_type

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["AsyncRedisStore"]


class AsyncRedisStore(AsyncKeyValueStore):
    """asyncio access to the same deployment as a :class:`RedisStore`."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]] = {}

    async def _client(self) -> Any:
        """The ``redis.asyncio`` client of the running loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        client = async_client(self.store.options)
        lifetime = self._lifetime(loop, client)
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = (client, lifetime)
        await lifetime.__anext__()  # registered with the loop: closed at its shutdown
        return client

    async def _lifetime(self, loop: asyncio.AbstractEventLoop, client: Any) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                mine = self._clients.get(loop, (None,))[0] is client
                if mine:
                    del self._clients[loop]
            if mine:  # else aclose() already closed it
                await self._close_client(client)

    async def _close_client(self, client: Any) -> None:
        await client.aclose()
        if not self.store.cluster:
            await client.connection_pool.disconnect()
            manager = getattr(client.connection_pool, "sentinel_manager", None)
            for sentinel in getattr(manager, "sentinels", ()):
                await sentinel.aclose()

    async def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = await (await self._client()).get(key)
        except redis.exceptions.ResponseError as exc:
            if is_wrong_type(exc):
                await self._raise_wrong_type([key])
            raise
        return value

    async def _raise_wrong_type(self, keys: list[str]) -> None:
        client = await self._client()
        kinds = [await client.type(key) for key in keys]
        raise_wrong_type(keys, lambda _: kinds)

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values of ``keys``; ``CorruptResultError`` for a non-string key (as the sync store)."""
        keys = list(keys)
        if not keys:
            return []
        client = await self._client()
        if self.store.cluster:
            values = list(await client.mget_nonatomic(keys))
            missing = [k for k, v in zip(keys, values, strict=True) if v is None]
            existing = int(await client.exists(*missing)) if missing else 0
        else:
            async with client.pipeline(transaction=False) as pipe:
                for command in mget_commands(keys, len(keys)):
                    pipe.execute_command(*command)
                values, existing = await pipe.execute()
            values = list(values)
            missing = [k for k, v in zip(keys, values, strict=True) if v is None]
            existing -= len(keys) - len(missing)
        if existing > 0:
            await self._raise_wrong_type(missing)
        return values

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        _check_size(key, value)
        client = await self._client()
        if self.store.cluster:
            await STORE.acall(client, [key], [value, _px(ttl)])
            return
        async with client.pipeline(transaction=False) as pipe:
            if ttl:
                pipe.set(key, value, px=_px(ttl))
            else:
                pipe.set(key, value)
            pipe.publish(key, value)
            await pipe.execute()

    async def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                                prefix: bytes) -> bool:
        """See :meth:`RedisStore.set_unless_prefix`."""
        _check_size(key, value)
        return bool(await GUARDED_SET.acall(await self._client(), [key], [value, _px(ttl), prefix]))

    async def delete(self, key: str) -> None:
        await (await self._client()).delete(key)

    async def aclose(self) -> None:
        """Close the client of the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._clients.pop(loop, None)
        if entry is not None:
            client, lifetime = entry
            await self._close_client(client)
            await lifetime.aclose()
