"""The stand-in's documents in a process of their own, so separate processes share them.

``serve()`` starts a ``multiprocessing`` manager process (loopback, random port, auth key)
holding one :class:`~.server.DocumentServer`; ``attach(address, authkey)`` in another process
points ``couchbase.cluster.Cluster`` (and Celery's import of it) at a :class:`~.sdk.FakeCluster`
whose operations run there.  Operations still run one at a time (the server's lock), so this
shows processes racing through the SDK API, not a cluster's replication.
"""

from __future__ import annotations

import threading
from multiprocessing.managers import BaseManager
from typing import Any

from .server import DocumentServer

__all__ = ["serve", "attach", "RemoteServer"]

_SHARED: DocumentServer | None = None
_LOCK = threading.Lock()


def _shared() -> DocumentServer:
    global _SHARED
    with _LOCK:
        if _SHARED is None:
            _SHARED = DocumentServer()
        return _SHARED


class _Manager(BaseManager):
    pass


_Manager.register("documents", callable=_shared)


class RemoteServer:
    """Client side: the :class:`DocumentServer` methods, over one manager connection per thread."""

    def __init__(self, address: tuple[str, int], authkey: bytes) -> None:
        self.address, self.authkey = address, authkey
        self._local = threading.local()

    def _proxy(self) -> Any:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            manager = _Manager(address=self.address, authkey=self.authkey)
            manager.connect()
            proxy = self._local.proxy = manager.documents()  # type: ignore[attr-defined]
        return proxy

    def run(self, *args: Any) -> Any:
        return self._proxy().run(*args)

    def run_many(self, calls: list[tuple[Any, ...]]) -> Any:
        return self._proxy().run_many(calls)

    def count(self) -> int:
        return int(self._proxy().count())


def serve(authkey: bytes) -> tuple[BaseManager, tuple[str, int]]:
    """Start the document process; stop it with ``manager.shutdown()``."""
    manager = _Manager(address=("127.0.0.1", 0), authkey=authkey)
    manager.start()
    return manager, manager.address  # type: ignore[return-value]


def attach(address: tuple[str, int], authkey: bytes) -> None:
    """In another process: every new ``Cluster`` talks to the shared documents."""
    import acouchbase.cluster
    import couchbase.cluster

    from .aio import FakeAsyncCluster
    from .sdk import FakeCluster

    FakeCluster.server = FakeAsyncCluster.server = RemoteServer(address, authkey)
    couchbase.cluster.Cluster = FakeCluster  # type: ignore[misc]
    acouchbase.cluster.Cluster = FakeAsyncCluster  # type: ignore[misc]
    try:
        import celery.backends.couchbase as celery_couchbase
    except ImportError:
        return
    celery_couchbase.Cluster = FakeCluster  # type: ignore[attr-defined]
