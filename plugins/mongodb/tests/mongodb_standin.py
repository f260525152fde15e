"""The MongoDB stand-in's two additions to mongomock (tests only, never shipped).

1. **Per-document atomicity.**  MongoDB applies each single-document write (and
   ``find_one_and_update``) atomically; mongomock does not (its filter match and its
   update are separate steps under separate locks, so two threads can both match
   ``members: {$ne: m}``).  :func:`atomic_documents` serializes mongomock's write and
   ``find_one*`` operations with one lock, which gives what MongoDB guarantees (and
   more: whole operations are serialized).  Our chord and guarded-write logic is then
   checked under MongoDB's guarantee; the server's real concurrency control is only
   exercised by the real-server run (``RESULTSTORE_TEST_MONGODB_URL``).
2. **An asyncio client.**  mongomock has none.  :class:`AsyncMongoMockClient` stands in
   for ``pymongo.AsyncMongoClient``: each awaited call runs mongomock's sync method.  It
   shows that our asyncio code path issues the right queries and decodes what it gets;
   it shows nothing about pymongo's async driver.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urlsplit


@dataclass(frozen=True)
class MongoTarget:
    """The server under test: its URL (with a fresh database) and whether it is real."""

    url: str
    real: bool

    @property
    def database(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def client(self) -> object:
        import pymongo

        return pymongo.MongoClient(self.url)


class _AsyncCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        for document in self._cursor:
            yield document


class _AsyncCollection:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        return self._collection.find_one(*args, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> _AsyncCursor:
        return _AsyncCursor(self._collection.find(*args, **kwargs))


class _AsyncDatabase:
    def __init__(self, database: Any) -> None:
        self._database = database

    def __getitem__(self, name: str) -> _AsyncCollection:
        return _AsyncCollection(self._database[name])


class AsyncMongoMockClient:
    """Built like ``AsyncMongoClient(**kwargs)``; opens the patched (mongomock) client."""

    instances = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import pymongo

        self._client = pymongo.MongoClient(*args, **kwargs)  # mongomock.patch is active
        AsyncMongoMockClient.instances += 1

    def __getitem__(self, name: str) -> _AsyncDatabase:
        return _AsyncDatabase(self._client[name])

    async def close(self) -> None:
        self._client.close()


@contextmanager
def patch_async() -> Iterator[None]:
    with mock.patch("pymongo.AsyncMongoClient", AsyncMongoMockClient):
        yield


_ATOMIC = ("insert_one", "insert_many", "replace_one", "update_one", "update_many", "delete_one",
           "delete_many", "find_one", "find_one_and_update", "find_one_and_replace",
           "find_one_and_delete")


@contextmanager
def atomic_documents() -> Iterator[None]:
    """Serialize mongomock's document operations (see the module docstring)."""
    import mongomock

    lock = threading.RLock()

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)
        return call

    def find(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with lock:  # materialized under the lock: no half-applied update is seen
            return iter(list(original_find(self, *args, **kwargs)))

    original_find = mongomock.Collection.find
    patches = [mock.patch.object(mongomock.Collection, name, locked(getattr(mongomock.Collection, name)))
               for name in _ATOMIC]
    patches.append(mock.patch.object(mongomock.Collection, "find", find))
    for patch in patches:
        patch.start()
    try:
        yield
    finally:
        for patch in reversed(patches):
            patch.stop()
