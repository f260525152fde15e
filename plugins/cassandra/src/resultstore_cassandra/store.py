"""``CassandraStore``: results in Celery's Cassandra result table, through cassandra-driver.

Rows are the ones Celery's ``CassandraBackend`` reads and writes (see
:mod:`resultstore_cassandra.schema`), so Celery workers and resultstore clients share a
table.  Beyond Celery's backend:

* expiry with the native ``USING TTL`` (``cassandra_entry_ttl`` as Celery, otherwise
  ``result_expires`` / ``result_failure_expires`` per state);
* prepared statements with the configured consistency levels; batched reads run
  concurrently (``execute_concurrent``) instead of one blocking read per task;
* a stored SUCCESS wins over later rows when read, and with ``cassandra_keep_success =
  "lwt"`` a lightweight transaction refuses any write after it (Paxos: ~4 round trips);
* groups (Celery's Cassandra backend cannot save them) and native chords
  (:mod:`resultstore_cassandra.chords`);
* asyncio reads on the driver's own futures (:mod:`resultstore_cassandra.aio`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from typing import Any

from resultstore import states
from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendStoreError, InvalidTaskId
from resultstore.keys import RECORDS
from resultstore.spec import Capability, MetaStore

from .chords import CassandraChords
from .config import CassandraConfig
from .rows import pick_row, row_to_meta, select_columns, write_values
from .schema import EXTRA_COLUMNS, GUARD, ensure_schema

__all__ = ["CassandraStore", "MAX_TTL", "CONCURRENCY"]

log = logging.getLogger(__name__)

#: Cassandra's largest TTL (20 years).
MAX_TTL = 630_720_000
#: Requests in flight for one batched read.
CONCURRENCY = 100


#: Name of the execution profile added when ``cassandra_options`` configures profiles.
PROFILE = "resultstore"


def _dict_rows(cluster: Any, session: Any) -> Any:
    """Rows as dicts: the session's row factory, or (when ``cassandra_options`` gives
    ``execution_profiles``, which forbid that) a clone of the default profile."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra.query import dict_factory

    try:
        session.row_factory = dict_factory
        return EXEC_PROFILE_DEFAULT
    except ValueError:
        profile = cluster.execution_profile_clone_update(EXEC_PROFILE_DEFAULT,
                                                         row_factory=dict_factory)
        cluster.add_execution_profile(PROFILE, profile)
        return PROFILE


def _transient_errors() -> tuple[type[BaseException], ...]:
    import cassandra
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionException

    return (cassandra.Unavailable, cassandra.ReadTimeout, cassandra.WriteTimeout,
            cassandra.OperationTimedOut, cassandra.CoordinationFailure, NoHostAvailable,
            ConnectionException)


class CassandraStore(ForwardChords, MetaStore):
    """Celery's Cassandra result rows; see the module docstring."""

    capabilities = frozenset({Capability.BATCH, Capability.CHORD, Capability.AIO})

    def __init__(self, config: CassandraConfig) -> None:
        self.config = config
        if config.keep_success == "lwt":  # a stored SUCCESS is kept atomically
            self.capabilities = frozenset({*type(self).capabilities, Capability.GUARDED_SET})
        self._lock = threading.RLock()
        self._cluster: Any = None
        self._session: Any = None
        self._pid = os.getpid()
        self._prepared: dict[tuple[str, str], Any] = {}
        #: The driver execution profile every statement runs with (rows as dicts).
        self.profile: Any = None
        self.extras: tuple[str, ...] = ()
        self.guard = False
        self.chords = CassandraChords(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CassandraStore:
        return cls(CassandraConfig.from_settings(url, settings))

    # -- connection ----------------------------------------------------------------
    @property
    def session(self) -> Any:
        """The driver session, connected (and tables prepared) on first use; after a fork
        the child connects anew (the driver's connections cannot cross a fork)."""
        if self._session is None or self._pid != os.getpid():
            self._connect()
        return self._session

    def _connect(self) -> None:
        import cassandra.cluster

        with self._lock:
            if self._session is not None and self._pid == os.getpid():
                return
            config = self.config
            options: dict[str, Any] = {"auth_provider": config.auth(), **config.options}
            if config.servers:
                cluster = cassandra.cluster.Cluster(list(config.servers), port=config.port, **options)
            else:
                cluster = cassandra.cluster.Cluster(
                    cloud={"secure_connect_bundle": config.bundle_path}, **options)
            try:
                session = cluster.connect(config.keyspace)
                profile = _dict_rows(cluster, session)
                present = ensure_schema(
                    lambda query, params=None: session.execute(query, params,
                                                               execution_profile=profile), config)
            except BaseException:
                cluster.shutdown()
                raise
            self.extras = tuple(name for name in EXTRA_COLUMNS if name in present)
            self.guard = GUARD in present
            if config.keep_success == "lwt" and not self.guard:
                cluster.shutdown()
                raise BackendStoreError(f"cassandra_keep_success='lwt' needs the static column "
                                        f"{GUARD} on {config.table}; it could not be added.")
            self._prepared, self.profile = {}, profile
            self._cluster, self._session, self._pid = cluster, session, os.getpid()

    def run(self, statement: Any, params: Any = None) -> Any:
        """``session.execute`` with this store's execution profile (rows as dicts)."""
        return self.session.execute(statement, params, execution_profile=self.profile)

    def run_async(self, statement: Any, params: Any = None) -> Any:
        """``session.execute_async`` with this store's execution profile: a ResponseFuture."""
        return self.session.execute_async(statement, params, execution_profile=self.profile)

    def statement(self, query: str, *, write: bool, level: str | None = None) -> Any:
        """The prepared statement for ``query`` with the configured consistency (or ``level``)."""
        level = level or (self.config.write_consistency if write else self.config.read_consistency)
        prepared = self._prepared.get((query, level))
        if prepared is None:
            from cassandra import ConsistencyLevel

            prepared = self.session.prepare(query)
            prepared.consistency_level = getattr(ConsistencyLevel, level)
            prepared.serial_consistency_level = getattr(ConsistencyLevel,
                                                        self.config.serial_consistency)
            self._prepared[(query, level)] = prepared
        return prepared

    # -- expiry ----------------------------------------------------------------------
    def ttl_for(self, seconds: float | None) -> int:
        """``USING TTL`` value: ``cassandra_entry_ttl`` if set (Celery), else ``seconds``; 0 = keep."""
        if self.config.entry_ttl is not None:
            return min(max(self.config.entry_ttl, 0), MAX_TTL)
        return 0 if not seconds else min(max(1, math.ceil(seconds)), MAX_TTL)

    def _task_ttl(self, status: str) -> int:
        failed = status == states.FAILURE
        return self.ttl_for(self.config.failure_expires if failed else self.config.expires)

    # -- task metas ------------------------------------------------------------------
    def _select(self) -> str:
        self.session  # noqa: B018 - connecting settles which extra columns the table has
        return f"SELECT {', '.join(select_columns(self.extras))} FROM {self.config.table} WHERE task_id = ?"

    def _meta(self, task_id: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        row = pick_row(rows)
        if row is None:
            return None
        return row_to_meta(task_id, row, partial(self._decode, key=RECORDS.task(task_id)),
                           self.config.extended)

    def _decode(self, payload: bytes | None, key: str) -> Any:
        """A column value; ``key`` (the record's key) is what a signature is bound to."""
        return None if payload is None else self.decode_value(bytes(payload), key)

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        rows = self.run(self.statement(self._select(), write=False), (str(task_id),))
        return self._meta(str(task_id), list(rows))

    def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Every id read concurrently (at most :data:`CONCURRENCY` in flight): one call."""
        from cassandra.concurrent import execute_concurrent_with_args

        ids = list(dict.fromkeys(str(t) for t in task_ids))
        if not ids:
            return {}
        session = self.session
        results = execute_concurrent_with_args(session, self.statement(self._select(), write=False),
                                               [(t,) for t in ids], concurrency=CONCURRENCY,
                                               execution_profile=self.profile)
        found = {}
        for task_id, (_, rows) in zip(ids, results, strict=True):
            meta = self._meta(task_id, list(rows))
            if meta is not None:
                found[task_id] = meta
        return found

    def _values(self, task_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        from cassandra.query import UNSET_VALUE

        if not task_id:
            raise InvalidTaskId("task id must be a non-empty string")
        self.session  # noqa: B018 - connecting settles which extra columns the table has
        return write_values(meta, partial(self.encode_value, key=RECORDS.task(task_id)), self.extras,
                            UNSET_VALUE)

    def set_meta(self, task_id: str, meta: Mapping[str, Any]) -> None:
        values = self._values(str(task_id), meta)
        names = ["task_id", *values]
        query = (f"INSERT INTO {self.config.table} ({', '.join(names)}) "
                 f"VALUES ({', '.join('?' for _ in names)}) USING TTL ?")
        self.run(self.statement(query, write=True),
                             (str(task_id), *values.values(), self._task_ttl(meta["status"])))

    def set_meta_unless_success(self, task_id: str, meta: Mapping[str, Any]) -> bool:
        """One lightweight transaction (``cassandra_keep_success = "lwt"``): the row is written
        unless the partition's static ``resultstore_success`` is set; a SUCCESS sets it."""
        values = self._values(str(task_id), meta)
        date_done = values.pop("date_done")
        success = meta["status"] == states.SUCCESS
        sets = [f"{name} = ?" for name in values] + ([f"{GUARD} = ?"] if success else [])
        query = (f"UPDATE {self.config.table} USING TTL ? SET {', '.join(sets)} "
                 f"WHERE task_id = ? AND date_done = ? IF {GUARD} = null")
        params = (self._task_ttl(meta["status"]), *values.values(),
                  *((states.SUCCESS,) if success else ()), str(task_id), date_done)
        row = self.run(self.statement(query, write=True), params).one()
        if row["[applied]"]:
            return True
        if row.get(GUARD) == states.SUCCESS:
            return False
        raise BackendStoreError(f"Unexpected lightweight-transaction outcome for {task_id!r}: "
                                f"not applied, but no stored SUCCESS ({row!r}).")

    def delete_meta(self, task_id: str) -> None:
        query = f"DELETE FROM {self.config.table} WHERE task_id = ?"
        self.run(self.statement(query, write=True), (str(task_id),))

    # -- groups ------------------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any] | None:
        query = f"SELECT result FROM {self.config.table}_group WHERE group_id = ?"
        row = self.run(self.statement(query, write=False), (str(group_id),)).one()
        return None if row is None else {"result": self._decode(row["result"], RECORDS.group(group_id))}

    def set_group(self, group_id: str, meta: Mapping[str, Any]) -> None:
        query = (f"INSERT INTO {self.config.table}_group (group_id, result, date_done) "
                 f"VALUES (?, ?, ?) USING TTL ?")
        self.run(self.statement(query, write=True), (
            str(group_id), self.encode_value(meta.get("result"), RECORDS.group(group_id)),
            datetime.now(timezone.utc),
            self.ttl_for(self.config.expires)))

    def delete_group(self, group_id: str) -> None:
        query = f"DELETE FROM {self.config.table}_group WHERE group_id = ?"
        self.run(self.statement(query, write=True), (str(group_id),))

    # -- asyncio, errors, lifecycle -----------------------------------------------------
    def aio(self) -> Any:
        from .aio import AsyncCassandraStore

        return AsyncCassandraStore(self)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Unavailable replicas, timeouts and lost connections; never invalid requests."""
        return isinstance(exc, _transient_errors())

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        with self._lock:
            cluster, self._cluster, self._session = self._cluster, None, None
        if cluster is not None and self._pid == os.getpid():
            cluster.shutdown()

    def __repr__(self) -> str:
        return f"<CassandraStore {self.as_uri()}>"
