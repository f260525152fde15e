"""One mongomock server shared by several processes (tests only, never shipped).

mongomock keeps its data in the memory of one process.  For the multi-process chord test,
:func:`serve` starts a ``multiprocessing`` manager process (loopback, random authkey) that
holds one mongomock server with :mod:`mongodb_standin`'s per-document atomicity; in each
worker process :func:`attach` replaces ``pymongo.MongoClient`` by :class:`RemoteClient`, whose
collections forward every operation to that server.  The store's code runs unchanged in
every process; what this stands in for is pymongo's wire protocol and the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from typing import Any
from unittest import mock

_SERVER: Any = None


class SharedServer:
    """Lives in the manager process: one mongomock client, operations serialized per call."""

    def __init__(self) -> None:
        import mongomock
        from mongodb_standin import atomic_documents

        self._atomic = atomic_documents()
        self._atomic.__enter__()  # for the life of the manager process
        self.client = mongomock.MongoClient()

    def call(self, database: str, collection: str, method: str, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        result = getattr(self.client[database][collection], method)(*args, **kwargs)
        if method in ("find", "list_indexes"):
            return list(result)
        return result


def _shared() -> SharedServer:
    global _SERVER
    if _SERVER is None:
        _SERVER = SharedServer()
    return _SERVER


class _Manager(BaseManager):
    pass


_Manager.register("server", callable=_shared)


class RemoteCollection:
    def __init__(self, server: Any, database: RemoteDatabase, name: str) -> None:
        self._server, self.database, self.name = server, database, name

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_") or method in ("watch",):
            raise AttributeError(method)  # no change streams on the stand-in

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self._server.call(self.database.name, self.name, method, args, kwargs)
            return iter(result) if method == "find" else result
        return call


class RemoteDatabase:
    def __init__(self, server: Any, client: RemoteClient, name: str) -> None:
        self._server, self.client, self.name = server, client, name

    def __getitem__(self, name: str) -> RemoteCollection:
        return RemoteCollection(self._server, self, name)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the shared stand-in runs no commands")


class RemoteClient:
    """Built like ``pymongo.MongoClient(**kwargs)``; talks to the manager's mongomock."""

    address: tuple[str, int] | None = None
    authkey: bytes = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        manager = _Manager(address=RemoteClient.address, authkey=RemoteClient.authkey)
        manager.connect()
        self._server = manager.server()  # type: ignore[attr-defined]
        self.admin = RemoteDatabase(self._server, self, "admin")

    def __getitem__(self, name: str) -> RemoteDatabase:
        return RemoteDatabase(self._server, self, name)

    def close(self) -> None:
        pass


def serve(authkey: bytes) -> tuple[BaseManager, tuple[str, int]]:
    manager = _Manager(address=("127.0.0.1", 0), authkey=authkey, ctx=get_context("spawn"))
    manager.start()
    manager.server()  # type: ignore[attr-defined]  # create it now: first calls do not race
    return manager, manager.address  # type: ignore[return-value]


def attach(address: tuple[str, int], authkey: bytes) -> None:
    """In a worker process: every ``pymongo.MongoClient`` is a :class:`RemoteClient`."""
    RemoteClient.address, RemoteClient.authkey = address, authkey
    mock.patch("pymongo.MongoClient", RemoteClient).start()


@contextmanager
def attached(address: tuple[str, int], authkey: bytes) -> Iterator[None]:
    """The same in the test process, undone afterwards."""
    RemoteClient.address, RemoteClient.authkey = address, authkey
    with mock.patch("pymongo.MongoClient", RemoteClient):
        yield
