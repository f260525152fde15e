"""Portable atomic statements: insert-or-ignore and insert-or-update.

PostgreSQL and SQLite get one ``INSERT ... ON CONFLICT`` statement (one round trip,
atomic).  MySQL/MariaDB get ``INSERT IGNORE`` / a locking read.  Any other dialect
gets a ``SELECT ... FOR UPDATE`` followed by an insert or update, inside the caller's
transaction (a concurrent insert of the same key is resolved by retrying as an update).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from resultstore.errors import BackendStoreError

__all__ = ["insert_ignore", "upsert", "ON_CONFLICT_DIALECTS"]

#: Dialects with ``INSERT ... ON CONFLICT`` in SQLAlchemy.
ON_CONFLICT_DIALECTS: dict[str, Callable[[sa.Table], Any]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


@functools.lru_cache(maxsize=64)
def _on_conflict_update(dialect: str, returning: bool, table: sa.Table, columns: tuple[str, ...],
                        keys: tuple[str, ...], update: tuple[str, ...],
                        unless: tuple[str, Any] | None) -> Any:
    """Built once per shape (SQLAlchemy statement construction costs more than the query)."""
    stmt = ON_CONFLICT_DIALECTS[dialect](table).values({c: sa.bindparam(c) for c in columns})
    where = None
    if unless is not None:
        column = table.c[unless[0]]
        where = sa.or_(column.is_(None), column != unless[1])
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}, where=where)
    return stmt.returning(table.c[keys[0]]) if returning else stmt


def _wrote(conn: Connection, stmt: Any, table: sa.Table, keys: Sequence[str]) -> bool:
    """Run an ``ON CONFLICT`` insert; True if it inserted or updated a row.

    ``RETURNING`` says so reliably (a skipped row returns nothing); ``rowcount`` is
    unreliable once SQLAlchemy adds its own implicit ``RETURNING`` for the primary key.
    """
    if conn.dialect.insert_returning:
        return conn.execute(stmt.returning(table.c[keys[0]])).first() is not None
    return bool(conn.execute(stmt).rowcount == 1)


def insert_ignore(conn: Connection, table: sa.Table, values: Mapping[str, Any],
                  keys: Sequence[str], *, native: bool = True) -> bool:
    """Insert a row unless one with the same ``keys`` exists; True if inserted."""
    dialect = conn.dialect.name
    if native and dialect in ON_CONFLICT_DIALECTS:
        stmt = ON_CONFLICT_DIALECTS[dialect](table).values(**values).on_conflict_do_nothing(
            index_elements=list(keys))
        return _wrote(conn, stmt, table, keys)
    if native and dialect in ("mysql", "mariadb"):
        return bool(conn.execute(sa.insert(table).values(**values).prefix_with("IGNORE")).rowcount == 1)
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(table).values(**values))
        return True
    except IntegrityError:
        return False


def upsert(conn: Connection, table: sa.Table, values: Mapping[str, Any], keys: Sequence[str],
           update: Sequence[str], *, unless: tuple[str, Any] | None = None,
           native: bool = True) -> bool:
    """Insert ``values``, or update the ``update`` columns of the row with the same ``keys``.

    ``unless=(column, value)`` leaves an existing row alone when ``column`` holds
    ``value`` (e.g. a stored SUCCESS).  Returns True when a row was written.
    """
    dialect = conn.dialect.name
    key_filter = sa.and_(*(table.c[k] == values[k] for k in keys))
    if native and dialect in ON_CONFLICT_DIALECTS:
        returning = bool(conn.dialect.insert_returning)
        stmt = _on_conflict_update(dialect, returning, table, tuple(values), tuple(keys),
                                   tuple(update), unless)
        result = conn.execute(stmt, dict(values))
        return result.first() is not None if returning else bool(result.rowcount == 1)
    for _ in range(2):
        columns = [table.c[k] for k in keys] + ([table.c[unless[0]]] if unless else [])
        current = conn.execute(sa.select(*columns).where(key_filter).with_for_update()).first()
        if current is None:
            if insert_ignore(conn, table, values, keys, native=native):
                return True
            continue  # inserted concurrently: now there is a row to lock and update
        if unless is not None and current[-1] == unless[1]:
            return False
        conn.execute(sa.update(table).where(key_filter).values({c: values[c] for c in update}))
        return True
    raise BackendStoreError(f"{table.name}: the row of {dict((k, values[k]) for k in keys)} "
                            f"was deleted and re-inserted concurrently twice; try again.")
