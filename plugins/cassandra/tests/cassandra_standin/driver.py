"""A stand-in at cassandra-driver's Cluster/Session boundary, over :mod:`.cql`'s tables.

``StandinCluster`` replaces ``cassandra.cluster.Cluster`` (tests patch the attribute, so
Celery's ``CassandraBackend`` and resultstore's store both get it).  Requests run on one
"event loop" thread per server, as the driver's I/O thread: ``execute_async`` returns a
future whose callbacks fire there, ``execute`` waits for it, and results are the driver's
own ``ResultSet`` built with the session's ``row_factory``.  Each request is recorded
(kind, CQL, consistency, serial consistency) so tests can count round trips and check
levels.  Authentication: a server with ``credentials`` refuses a cluster whose
``auth_provider`` does not carry them, as the driver reports it (``NoHostAvailable``).
"""

from __future__ import annotations

import copy
import heapq
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from cassandra import AuthenticationFailed, ConsistencyLevel, OperationTimedOut
from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile, NoHostAvailable, ResultSet
from cassandra.query import SimpleStatement, named_tuple_factory

from .cql import Database

__all__ = ["StandinServer", "StandinCluster", "Request"]


@dataclass(frozen=True)
class Request:
    kind: str  # "query" or "prepare"
    cql: str
    consistency: int | None
    serial: int | None


class StandinServer:
    """One in-process "cluster": tables, a request log and the I/O thread."""

    def __init__(self, credentials: dict[str, str] | None = None, database: Any = None) -> None:
        self.clock_offset = 0.0
        self.db = Database(clock=lambda: time.time() + self.clock_offset)
        #: Where statements run: this process's tables, or a shared process's (``.remote``).
        self.database = database or self.db
        self.credentials = credentials
        self.requests: list[Request] = []
        #: Whether requests are logged (the client kit's memory test turns it off: the log
        #: would count as memory its waiters left behind).
        self.record = True
        self.clusters: list[StandinCluster] = []
        self.lock = threading.Lock()
        #: ``fail(cql) -> exception | None``: fault injection before a statement runs.
        self.fail: Callable[[str], BaseException | None] = lambda cql: None
        #: ``lose(cql) -> exception | None``: the statement runs, then its response is "lost".
        self.lose: Callable[[str], BaseException | None] = lambda cql: None
        #: Emulated network round trip (seconds): each response is delivered this long after
        #: its request, and requests in flight overlap (as on a real connection).
        self.latency = 0.0
        #: Requests in flight now, and the most seen at once.
        self.in_flight = self.max_in_flight = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="standin-io", daemon=True)
        self._thread.start()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._due_ready = threading.Condition()
        self._seq = 0
        threading.Thread(target=self._deliver_due, name="standin-net", daemon=True).start()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            job()

    def submit(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def sent(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def respond(self, deliver: Callable[[], None]) -> None:
        """Deliver a response now, or after the emulated latency (off the I/O thread)."""
        def done() -> None:
            with self.lock:
                self.in_flight -= 1
            deliver()

        if self.latency <= 0:
            done()
            return
        with self._due_ready:
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + self.latency, self._seq, done))
            self._due_ready.notify()

    def _deliver_due(self) -> None:
        while True:
            with self._due_ready:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._due_ready.wait(None if not self._due
                                         else self._due[0][0] - time.monotonic())
                _, _, done = heapq.heappop(self._due)
            done()

    def execute(self, keyspace: str | None, cql: str, params: Any) -> tuple[list[str], list[Any]]:
        injected = self.fail(cql)
        if injected is not None:
            raise injected
        with self.lock:
            result = self.database.run(keyspace, cql, params)
        lost = self.lose(cql)
        if lost is not None:
            raise lost
        return result

    def queries(self, needle: str = "") -> list[Request]:
        return [r for r in self.requests if r.kind == "query" and needle in r.cql]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)


class StandinPrepared:
    """What ``session.prepare`` returns: the CQL and the levels the caller sets."""

    def __init__(self, query_string: str) -> None:
        self.query_string = query_string
        self.consistency_level: int | None = None
        self.serial_consistency_level: int | None = None


class StandinFuture:
    """The parts of ``ResponseFuture`` that callers (and ``execute_concurrent``) use."""

    has_more_pages = False
    _col_types = None

    def __init__(self, session: StandinSession, query: Any, row_factory: Callable[..., Any]) -> None:
        self.session = session
        self.query = query
        self.row_factory = row_factory
        self._col_names: list[str] = []
        self._done = threading.Event()
        self._rows: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._errbacks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _finish(self, names: list[str], rows: list[Any] | None, error: BaseException | None) -> None:
        with self._lock:
            self._col_names = names
            self._rows = self.row_factory(names, rows) if rows is not None and names else []
            self._error = error
            self._done.set()
            callbacks, errbacks = list(self._callbacks), list(self._errbacks)
        for fn, args, kwargs in (errbacks if error is not None else callbacks):
            fn(error if error is not None else self._rows, *args, **kwargs)

    def result(self) -> ResultSet:
        if not self._done.wait(10):
            raise OperationTimedOut("stand-in request did not complete")
        if self._error is not None:
            raise self._error
        return ResultSet(self, self._rows)

    def add_callbacks(self, callback: Callable[..., Any], errback: Callable[..., Any],
                      callback_args: tuple[Any, ...] = (), callback_kwargs: dict[str, Any] | None = None,
                      errback_args: tuple[Any, ...] = (), errback_kwargs: dict[str, Any] | None = None
                      ) -> None:
        self.add_callback(callback, *callback_args, **(callback_kwargs or {}))
        self.add_errback(errback, *errback_args, **(errback_kwargs or {}))

    def add_callback(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> StandinFuture:
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append((fn, args, kwargs))
                return self
        if self._error is None:  # already done: run now, in the caller's thread (as the driver)
            fn(self._rows, *args, **kwargs)
        return self

    def add_errback(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> StandinFuture:
        with self._lock:
            if not self._done.is_set():
                self._errbacks.append((fn, args, kwargs))
                return self
        if self._error is not None:
            fn(self._error, *args, **kwargs)
        return self

    def clear_callbacks(self) -> None:
        with self._lock:
            self._callbacks, self._errbacks = [], []


class StandinSession:
    def __init__(self, cluster: StandinCluster, keyspace: str | None) -> None:
        self.cluster = cluster
        self.keyspace = keyspace
        self._row_factory: Callable[..., Any] = named_tuple_factory
        self.default_consistency_level = ConsistencyLevel.LOCAL_ONE
        self.is_shutdown = False

    @property
    def server(self) -> StandinServer:
        return self.cluster.server

    @property
    def row_factory(self) -> Callable[..., Any]:
        return self._row_factory

    @row_factory.setter
    def row_factory(self, factory: Callable[..., Any]) -> None:
        if self.cluster.profiles:  # as the driver: legacy settings and profiles do not mix
            raise ValueError("Cannot set row_factory while using Configuration Profiles. Set "
                             "this in a profile configuration instead.")
        self._row_factory = factory

    def prepare(self, query: str) -> StandinPrepared:
        if self.server.record:
            self.server.requests.append(Request("prepare", query, None, None))
        return StandinPrepared(query)

    def execute_async(self, query: Any, parameters: Any = None, timeout: Any = None,
                      execution_profile: Any = EXEC_PROFILE_DEFAULT, **kwargs: Any) -> StandinFuture:
        if self.is_shutdown:
            raise RuntimeError("the session was shut down")
        if isinstance(query, str):
            query = SimpleStatement(query)
        cql = query.query_string
        level = query.consistency_level
        if self.server.record:
            self.server.requests.append(Request(
                "query", cql, self.default_consistency_level if level is None else level,
                getattr(query, "serial_consistency_level", None)))
        profile = self.cluster.profiles.get(execution_profile)
        future = StandinFuture(self, query, profile.row_factory if profile else self.row_factory)

        def run() -> None:
            try:
                names, rows = self.server.execute(self.keyspace, cql, parameters)
            except BaseException as exc:
                error = exc  # ``exc`` is unbound after the block; the response may come later
                self.server.respond(lambda: future._finish([], None, error))
            else:
                self.server.respond(lambda: future._finish(names, rows, None))

        self.server.sent()
        self.server.submit(run)
        return future

    def execute(self, query: Any, parameters: Any = None, timeout: Any = None,
                execution_profile: Any = EXEC_PROFILE_DEFAULT, **kwargs: Any) -> ResultSet:
        return self.execute_async(query, parameters, timeout, execution_profile).result()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.server.submit(lambda: fn(*args, **kwargs))

    def shutdown(self) -> None:
        self.is_shutdown = True


class StandinCluster:
    """``cassandra.cluster.Cluster`` as far as Celery and resultstore call it."""

    #: The server every new cluster talks to (set by the test fixture).
    server: ClassVar[StandinServer]

    def __init__(self, contact_points: Any = None, port: int = 9042, auth_provider: Any = None,
                 cloud: Any = None, **options: Any) -> None:
        self.contact_points, self.port, self.cloud, self.options = contact_points, port, cloud, options
        self.auth_provider = auth_provider
        #: ``execution_profiles`` from the options (their row factories are honoured).
        self.profiles: dict[Any, Any] = dict(options.get("execution_profiles") or {})
        self.server = type(self).server
        self.server.clusters.append(self)
        self.sessions: list[StandinSession] = []
        self.is_shutdown = False

    def connect(self, keyspace: str | None = None) -> StandinSession:
        wanted = self.server.credentials
        if wanted is not None:
            given = {"username": getattr(self.auth_provider, "username", None),
                     "password": getattr(self.auth_provider, "password", None)}
            if given != wanted:
                raise NoHostAvailable("Unable to connect to any servers", {
                    "127.0.0.1:9042": AuthenticationFailed("Provided username and/or password "
                                                           "are incorrect")})
        session = StandinSession(self, keyspace)
        self.sessions.append(session)
        return session

    def execution_profile_clone_update(self, name: Any, **changes: Any) -> Any:
        profile = copy.copy(self.profiles.get(name) or ExecutionProfile())
        for key, value in changes.items():
            setattr(profile, key, value)
        return profile

    def add_execution_profile(self, name: Any, profile: Any) -> None:
        self.profiles[name] = profile

    def shutdown(self) -> None:
        self.is_shutdown = True
        for session in self.sessions:
            session.shutdown()
