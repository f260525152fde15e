"""The stand-in's ``acouchbase`` twin: ``acouchbase.cluster.Cluster`` over the same documents.

Each awaitable method runs the sync stand-in's operation (the installed SDK's option,
transcoder and result code, :mod:`.sdk`) and yields to the loop once, so concurrent gets
interleave as they would in flight.  Not modelled: ``acouchbase``'s binding of its C++ core
to the event loop (only a real server exercises it).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from couchbase.logic.cluster_settings import ClusterSettings

from .sdk import FakeCollection

__all__ = ["FakeAsyncCluster"]


class FakeAsyncCollection:
    def __init__(self, sync: FakeCollection) -> None:
        self.sync = sync

    async def _run(self, name: str, *args: Any) -> Any:
        await asyncio.sleep(0)
        return getattr(self.sync, name)(*args)

    async def get(self, key: str, *opts: Any) -> Any:
        return await self._run("get", key, *opts)

    async def insert(self, key: str, value: Any, *opts: Any) -> Any:
        return await self._run("insert", key, value, *opts)

    async def upsert(self, key: str, value: Any, *opts: Any) -> Any:
        return await self._run("upsert", key, value, *opts)

    async def replace(self, key: str, value: Any, *opts: Any) -> Any:
        return await self._run("replace", key, value, *opts)

    async def remove(self, key: str, *opts: Any) -> Any:
        return await self._run("remove", key, *opts)


class _Scope:
    def __init__(self, server: Any, name: str, transcoder: Any) -> None:
        self.server, self.name, self.transcoder = server, name, transcoder

    def collection(self, name: str) -> FakeAsyncCollection:
        return FakeAsyncCollection(FakeCollection(self.server, self.name, name, self.transcoder))


class _Bucket:
    def __init__(self, server: Any, name: str, transcoder: Any) -> None:
        self.server, self.name, self.transcoder = server, name, transcoder

    async def on_connect(self) -> None:
        await asyncio.sleep(0)

    def scope(self, name: str) -> _Scope:
        return _Scope(self.server, f"{self.name}/{name}", self.transcoder)


class FakeAsyncCluster:
    """``await Cluster.connect(connstr, *options)`` as the SDK checks its arguments."""

    #: Set by the tests (a :class:`~.server.DocumentServer` or a remote proxy of one).
    server: ClassVar[Any] = None
    #: Clusters connected (tests count them).
    connected: ClassVar[int] = 0

    def __init__(self, connstr: str, *options: Any, **kwargs: Any) -> None:
        self.settings = ClusterSettings.build_cluster_settings(connstr, *options, **kwargs)
        self.closed = False

    @staticmethod
    async def connect(connstr: str, *options: Any, **kwargs: Any) -> FakeAsyncCluster:
        cluster = FakeAsyncCluster(connstr, *options, **kwargs)
        await asyncio.sleep(0)
        FakeAsyncCluster.connected += 1
        return cluster

    def bucket(self, name: str) -> _Bucket:
        return _Bucket(self.server, name, self.settings.default_transcoder)

    async def close(self) -> None:
        self.closed = True
