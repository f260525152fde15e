"""``DatabaseStore``: results in Celery's SQL tables through SQLAlchemy 2.

Rows are the ones Celery's ``DatabaseBackend`` reads and writes, so a Celery worker
and a resultstore client (or the other way round) share one database.  Improvements
over Celery's backend, all within its layout:

* one pooled engine per store instead of an engine per operation, and one atomic
  ``INSERT ... ON CONFLICT ... WHERE status <> 'SUCCESS'`` per write on PostgreSQL and
  SQLite (a stored SUCCESS is never overwritten, without a prior read);
* batched reads (``task_id IN (...)``);
* native chords counted exactly once under concurrency by a counter row
  (:mod:`resultstore_database.chords`);
* ``cleanup`` honours ``result_failure_expires`` and ``result_chord_expires`` too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool, StaticPool

from resultstore import states
from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured, InvalidTaskId
from resultstore.keys import RECORDS
from resultstore.masking import mask_url
from resultstore.spec import Capability, ChordProgress, MetaStore

from . import chords
from .config import DatabaseConfig
from .rows import decode_column, meta_to_row, row_to_meta
from .sql import ON_CONFLICT_DIALECTS, upsert
from .tables import ID_LENGTH, Tables, build_tables

__all__ = ["DatabaseStore"]

log = logging.getLogger(__name__)

#: Rows per ``IN (...)`` query of a batched read.
BATCH_SIZE = 1000


def utcnow() -> datetime:
    """Naive UTC now, as the timestamp columns hold it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _check_id(value: str, what: str = "task") -> str:
    if not value:
        raise InvalidTaskId(f"{what} id must be a non-empty string")
    if len(value) > ID_LENGTH:
        raise InvalidTaskId(f"{what} id is {len(value)} characters long; Celery's tables hold "
                            f"at most {ID_LENGTH}.")
    return value


def create_engine(config: DatabaseConfig) -> Engine:
    """The pooled engine (``NullPool`` with ``database_short_lived_sessions``)."""
    options = dict(config.engine_options)
    url = config.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # one in-memory database shared by every thread of this store
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    if config.short_lived_sessions:
        options = {k: v for k, v in options.items()
                   if not k.startswith("pool") and k not in ("max_overflow", "echo_pool")}
        options["poolclass"] = NullPool
    try:
        engine = sa.create_engine(url, **options)
    except NoSuchModuleError as exc:
        raise ImproperlyConfigured(f"Unknown database dialect {url.drivername!r}: {exc}") from None
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"The driver for {url.drivername!r} is not installed ({exc}); e.g. "
            f"`pip install 'resultstore-database[postgresql]'` for psycopg 3.") from None
    if config.engine_callback is not None:
        config.engine_callback(engine)
    _dispose_after_fork(engine)
    return engine


def _dispose_after_fork(engine: Engine) -> None:
    """A forked child must not reuse the parent's pooled connections."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=in_child)


class DatabaseStore(MetaStore):
    """Celery's ``celery_taskmeta``/``celery_tasksetmeta`` rows; see the module docstring."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        "the database driver's TLS options in the URL query (PostgreSQL: sslmode, "
        'sslrootcert, sslcert, sslkey; MySQL: ssl_ca, ssl_cert, ssl_key) or in '
        "database_engine_options={'connect_args': {...}}")

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD,
                              Capability.CLEANUP, Capability.SCAN})

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.tables: Tables = build_tables(config.table_names, config.table_schemas)
        self.engine = create_engine(config)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        #: Use ``INSERT ... ON CONFLICT`` where the dialect has it (tests turn it off to
        #: exercise the portable path).
        self.native = True
        self._prepared = False
        self._lock = threading.Lock()
        self._task_columns: tuple[str, ...] = tuple(c.name for c in self.tables.task.columns)
        self._select_one: sa.Select[Any] | None = None
        if config.create_tables_at_setup:
            try:
                self.prepare()
            except OperationalError as exc:  # server down: the first operation retries/reports
                log.warning("Cannot create the result tables yet (%s); retrying on first use.",
                            type(exc.orig).__name__ if exc.orig is not None else exc)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DatabaseStore:
        return cls(DatabaseConfig.from_settings(url, settings))

    # -- setup ----------------------------------------------------------------
    def prepare(self) -> None:
        """Create missing tables and add missing nullable columns (as Celery does), once."""
        with self._lock:
            if self._prepared:
                return
            for attempt in range(10):  # concurrent creators race on "exists?" checks
                try:
                    self.tables.metadata.create_all(self.engine)
                    break
                except (sa.exc.IntegrityError, sa.exc.ProgrammingError):  # "already exists"
                    if attempt == 9:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            present = self._add_missing_columns()
            self._task_columns = tuple(c.name for c in self.tables.task.columns if c.name in present)
            self._prepared = True

    def _add_missing_columns(self) -> set[str]:
        inspector = sa.inspect(self.engine)
        preparer = self.engine.dialect.identifier_preparer
        present: set[str] = set()
        for table in self.tables.metadata.tables.values():
            existing = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
            for column in table.columns:
                if column.name in existing or not column.nullable:
                    continue
                statement = (f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN "
                             f"{preparer.quote(column.name)} {column.type.compile(self.engine.dialect)}")
                try:
                    with self.engine.begin() as conn:
                        conn.execute(sa.text(statement))
                    existing.add(column.name)
                except sa.exc.DatabaseError as exc:
                    log.warning("Cannot add column %s to %s (%s); results are stored without it. "
                                "To keep it, run: %s", column.name, table.name, exc.orig, statement)
            if table is self.tables.task:
                present = existing
        return present

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A transaction, for operations of several statements."""
        if not self._prepared:
            self.prepare()
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _single(self) -> Iterator[Connection]:
        """An autocommit connection, for one atomic statement (no BEGIN/COMMIT round trips)."""
        if not self._prepared:
            self.prepare()
        with self._autocommit.connect() as conn:
            yield conn

    def _one_statement_upsert(self) -> bool:
        return self.native and self.engine.dialect.name in ON_CONFLICT_DIALECTS

    def _decode(self, payload: bytes | None, key: str = "") -> Any:
        accept = self.codec.accept if self.codec is not None else ()
        return decode_column(payload, partial(self.decode_value, key=key), accept)

    # -- task metas -------------------------------------------------------------
    def _write(self, task_id: str, meta: Mapping[str, Any], guarded: bool) -> bool:
        if not self._prepared:
            self.prepare()  # settles which columns exist before the row is built
        row = meta_to_row(meta, partial(self.encode_value, key=RECORDS.task(task_id)),
                          self._task_columns)
        values = {"task_id": _check_id(str(task_id)), **row}
        with self._single() if self._one_statement_upsert() else self._begin() as conn:
            return upsert(conn, self.tables.task, values, ["task_id"], list(row),
                          unless=("status", states.SUCCESS) if guarded else None,
                          native=self.native)

    def set_meta(self, task_id: str, meta: Mapping[str, Any]) -> None:
        self._write(task_id, meta, guarded=False)

    def set_meta_unless_success(self, task_id: str, meta: Mapping[str, Any]) -> bool:
        return self._write(task_id, meta, guarded=True)

    def _select_tasks(self) -> sa.Select[Any]:
        task = self.tables.task
        return sa.select(*(task.c[name] for name in self._task_columns))

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        if self._select_one is None or not self._prepared:
            self.prepare()
            self._select_one = self._select_tasks().where(
                self.tables.task.c.task_id == sa.bindparam("task_id"))
        with self._single() as conn:
            row = conn.execute(self._select_one, {"task_id": str(task_id)}).mappings().first()
        return None if row is None else row_to_meta(
            row, partial(self._decode, key=RECORDS.task(task_id)), self.config.extended)

    def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(str(t) for t in task_ids))
        found: dict[str, dict[str, Any]] = {}
        column = self.tables.task.c.task_id
        with self._single() as conn:
            for start in range(0, len(ids), BATCH_SIZE):
                chunk = ids[start:start + BATCH_SIZE]
                for row in conn.execute(self._select_tasks().where(column.in_(chunk))).mappings():
                    found[row["task_id"]] = row_to_meta(
                        row, partial(self._decode, key=RECORDS.task(row["task_id"])),
                        self.config.extended)
        return found

    def delete_meta(self, task_id: str) -> None:
        task = self.tables.task
        with self._single() as conn:
            conn.execute(sa.delete(task).where(task.c.task_id == str(task_id)))

    def scan_ids(self, kind: str) -> Iterator[str]:
        """Ids of stored task metas (``task``) or saved groups (``group``), in row order."""
        table, column = ((self.tables.task, "task_id") if kind == "task"
                         else (self.tables.group, "taskset_id"))
        with self._single() as conn:
            ids = [row[0] for row in conn.execute(sa.select(table.c[column]).order_by(table.c.id))]
        return iter(ids)

    # -- groups -----------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any] | None:
        group = self.tables.group
        with self._single() as conn:
            row = conn.execute(sa.select(group.c.result).where(
                group.c.taskset_id == str(group_id))).first()
        return None if row is None else {"result": self._decode(row.result, RECORDS.group(group_id))}

    def set_group(self, group_id: str, meta: Mapping[str, Any]) -> None:
        values = {"taskset_id": _check_id(str(group_id), "group"),
                  "result": self.encode_value(meta.get("result"), RECORDS.group(group_id)),
                  "date_done": utcnow()}
        with self._single() if self._one_statement_upsert() else self._begin() as conn:
            upsert(conn, self.tables.group, values, ["taskset_id"], ["result", "date_done"],
                   native=self.native)

    def delete_group(self, group_id: str) -> None:
        group = self.tables.group
        with self._single() as conn:
            conn.execute(sa.delete(group).where(group.c.taskset_id == str(group_id)))

    # -- chords -------------------------------------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        with self._begin() as conn:
            chords.set_size(conn, self.tables, group_key, size, utcnow(), native=self.native)

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        with self._begin() as conn:
            return chords.add(conn, self.tables, group_key, member, index, value, utcnow(),
                              native=self.native)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        with self._begin() as conn:
            chords.grow(conn, self.tables, group_key, by, utcnow(), native=self.native)

    def chord_parts(self, group_key: str) -> list[bytes]:
        with self._single() as conn:
            return chords.parts(conn, self.tables, group_key)

    def chord_clear(self, group_key: str) -> None:
        with self._begin() as conn:
            chords.clear(conn, self.tables, group_key, utcnow())

    # -- maintenance ----------------------------------------------------------------
    def cleanup(self) -> int:
        """Delete results past ``result_expires`` (FAILUREs: ``result_failure_expires``),
        groups past ``result_expires`` and chord bookkeeping past ``result_chord_expires``.

        Rows without ``date_done`` (unready states) are kept, as Celery keeps them.
        """
        now = utcnow()
        config = self.config
        task, group = self.tables.task, self.tables.group
        deleted = 0
        with self._begin() as conn:
            is_failure = task.c.status == states.FAILURE
            if config.expires:
                cutoff = now - timedelta(seconds=config.expires)
                deleted += conn.execute(sa.delete(task).where(
                    task.c.date_done < cutoff, sa.or_(task.c.status.is_(None), ~is_failure))).rowcount
                deleted += conn.execute(sa.delete(group).where(group.c.date_done < cutoff)).rowcount
            if config.failure_expires:
                cutoff = now - timedelta(seconds=config.failure_expires)
                deleted += conn.execute(sa.delete(task).where(
                    task.c.date_done < cutoff, is_failure)).rowcount
            chord_expires = config.chord_expires or config.expires
            if chord_expires:
                chords.cleanup(conn, self.tables, now - timedelta(seconds=chord_expires))
        return deleted

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections, timeouts and lock contention; never constraint or data errors."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        return isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError))

    def as_uri(self, include_password: bool = False) -> str:
        url = self.config.url.render_as_string(hide_password=False)
        return url if include_password else mask_url(url)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"<DatabaseStore {self.as_uri()}>"
