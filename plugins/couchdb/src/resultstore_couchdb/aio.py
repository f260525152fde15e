"""The ``httpx.AsyncClient`` twin of :class:`~resultstore_couchdb.store.CouchDBStore`.

Same documents, same requests, awaitable: a read is one ``GET``, a batched read one
``POST _all_docs?include_docs=true``.  An ``httpx.AsyncClient`` belongs to the event loop
that used it first, so the twin keeps one client per loop (closed by ``aclose()``, or
dropped with its loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from resultstore.errors import BackendError
from resultstore.spec import AsyncKeyValueStore

from .client import AsyncClient, client_options
from .docs import check, decode_doc, encode_doc, rev_of
from .store import ATTEMPTS, BATCH

if TYPE_CHECKING:
    from .store import CouchDBStore

__all__ = ["AsyncCouchDBStore"]


class AsyncCouchDBStore(AsyncKeyValueStore):
    """asyncio access to the database of a :class:`CouchDBStore`."""

    def __init__(self, store: CouchDBStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    async def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is not None:
            return client
        client = AsyncClient(**client_options(self.store.config))
        if self.store._client.peek() is None:  # nothing checked the database in this process yet
            await asyncio.to_thread(lambda: self.store.client)  # ensures it, off the loop
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = client
        return client

    async def _request(self, method: str, path: str, what: str, ok: tuple[int, ...] = (),
                       **kwargs: Any) -> httpx.Response:
        response = await (await self._client()).request(method, path, **kwargs)
        return response if response.status_code in ok else check(response, what)

    async def get(self, key: str) -> bytes | None:
        name = self.store.name(key)
        response = await self._request("GET", self.store.path(name), f"GET {name}", ok=(404,))
        return None if response.status_code == 404 else self.store._live(decode_doc(response.json()))

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        names = [self.store.name(key) for key in keys]
        unique = list(dict.fromkeys(names))
        found: dict[str, bytes | None] = {}
        for start in range(0, len(unique), BATCH):
            body = (await self._request("POST", f"{self.store.db}/_all_docs", "read documents",
                                        params={"include_docs": "true"},
                                        json={"keys": unique[start:start + BATCH]})).json()
            for row in body.get("rows", []):
                if isinstance(row, dict):
                    found[str(row.get("key"))] = self.store._live(decode_doc(row.get("doc")))
        return [found.get(name) for name in names]

    async def _current_rev(self, name: str) -> str | None:
        """As :meth:`CouchDBStore.current_rev`: from ``_all_docs``, not a ``HEAD``."""
        body = (await self._request("POST", f"{self.store.db}/_all_docs", f"revision of {name}",
                                    json={"keys": [name]})).json()
        rows = body.get("rows") if isinstance(body, dict) else None
        return rev_of(rows[0]) if isinstance(rows, list) and rows else None

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        name = self.store.name(key)
        path, expires, rev = self.store.path(name), self.store._deadline(ttl), None
        for _ in range(ATTEMPTS):
            response = await self._request("PUT", path, f"PUT {name}", ok=(409,),
                                           json=encode_doc(name, bytes(value), expires, rev))
            if response.status_code != 409:
                return
            rev = await self._current_rev(name)
        raise BackendError(f"{name}: too much write contention ({ATTEMPTS} attempts)")

    async def delete(self, key: str) -> None:
        name = self.store.name(key)
        path = self.store.path(name)
        for _ in range(ATTEMPTS):
            rev = await self._current_rev(name)
            if rev is None:
                return
            response = await self._request("DELETE", path, f"DELETE {name}", ok=(404, 409),
                                           params={"rev": rev})
            if response.status_code != 409:
                return
        raise BackendError(f"{name}: too much write contention deleting it ({ATTEMPTS} attempts)")

    async def aclose(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
