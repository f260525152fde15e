"""The stand-in's tables in a process of their own, so separate worker processes share them.

``serve()`` starts a ``multiprocessing`` manager process (loopback, random port, auth key)
holding one :class:`~.cql.Database`; ``attach(address, authkey)`` in a worker process points
``cassandra.cluster.Cluster`` at a :class:`~.driver.StandinServer` whose statements run there.
Statements still run one at a time (the database's lock), so this shows processes racing
through the driver API, not replica-level behaviour.
"""

from __future__ import annotations

import threading
from multiprocessing.managers import BaseManager
from typing import Any

from cassandra.query import UNSET_VALUE

from .cql import Database

__all__ = ["serve", "attach", "SharedDatabase"]

_UNSET = "\x00standin-unset\x00"  # UNSET_VALUE is a singleton: it does not survive pickling


class SharedDatabase:
    """The object the manager serves: ``run`` under a lock, UNSET restored."""

    def __init__(self) -> None:
        self.db = Database()
        self.lock = threading.Lock()

    def run(self, keyspace: str | None, cql: str, params: Any) -> tuple[list[str], list[Any]]:
        values = [UNSET_VALUE if v == _UNSET else v for v in params or ()]
        with self.lock:
            return self.db.run(keyspace, cql, values)


_SHARED: SharedDatabase | None = None


def _shared() -> SharedDatabase:
    global _SHARED
    if _SHARED is None:
        _SHARED = SharedDatabase()
    return _SHARED


class _Manager(BaseManager):
    pass


_Manager.register("database", callable=_shared)


class RemoteDatabase:
    """Client side: what :class:`~.driver.StandinServer` calls instead of a local Database."""

    def __init__(self, address: tuple[str, int], authkey: bytes) -> None:
        manager = _Manager(address=address, authkey=authkey)
        manager.connect()
        self._proxy = manager.database()  # type: ignore[attr-defined]
        self._local = threading.local()

    def run(self, keyspace: str | None, cql: str, params: Any) -> tuple[list[str], list[Any]]:
        values = [_UNSET if v is UNSET_VALUE else v for v in params or ()]
        return self._proxy.run(keyspace, cql, values)  # type: ignore[no-any-return]


def serve(authkey: bytes) -> tuple[BaseManager, tuple[str, int]]:
    """Start the database process; stop it with ``manager.shutdown()``."""
    manager = _Manager(address=("127.0.0.1", 0), authkey=authkey)
    manager.start()
    return manager, manager.address  # type: ignore[return-value]


def attach(address: tuple[str, int], authkey: bytes) -> None:
    """In a worker process: every new ``Cluster`` talks to the shared database."""
    import cassandra.cluster

    from .driver import StandinCluster, StandinServer

    StandinCluster.server = StandinServer(database=RemoteDatabase(address, authkey))
    cassandra.cluster.Cluster = StandinCluster  # type: ignore[misc]
