"""Tables: Celery's result table (same DDL), plus resultstore's nullable columns and two tables.

Celery 5.7 creates::

    CREATE TABLE <table> (task_id text, status text, result blob, date_done timestamp,
        traceback blob, children blob, PRIMARY KEY ((task_id), date_done))
        WITH CLUSTERING ORDER BY (date_done DESC);

Every write adds a row (``date_done`` = now) and a reader takes the newest (``LIMIT 1``).
resultstore writes and reads the same rows and adds, without changing what Celery reads
(Celery's statements name their columns):

* nullable columns for ``result_extended`` and the task's group/parent (``EXTRA_COLUMNS``)
  and a static ``resultstore_success`` column (the lightweight-transaction guard of
  ``cassandra_keep_success = "lwt"``), added with ``ALTER TABLE`` to a table Celery made;
* ``<table>_group`` (saved groups; Celery's Cassandra backend cannot save groups) and
  ``<table>_chord`` (chord parts, size, growth and the completion claim).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .config import CassandraConfig

__all__ = ["CELERY_COLUMNS", "EXTRA_COLUMNS", "GUARD", "ensure_schema", "task_ddl", "group_ddl",
           "chord_ddl"]

log = logging.getLogger(__name__)

#: Runs one statement: ``run(query, params=None)`` (the store's :meth:`run`).
Run = Callable[..., Any]

#: Celery's columns, in its SELECT order, after ``task_id``.
CELERY_COLUMNS = ("status", "result", "date_done", "traceback", "children")
#: resultstore's nullable additions and their CQL types.
EXTRA_COLUMNS = {"name": "text", "args": "blob", "kwargs": "blob", "worker": "text",
                 "retries": "int", "queue": "text", "group_id": "text", "parent_id": "text"}
#: The static column holding ``SUCCESS`` once a success was stored by a lightweight transaction.
GUARD = "resultstore_success"


def task_ddl(table: str) -> str:
    """Celery's CREATE TABLE (``IF NOT EXISTS``), with resultstore's columns."""
    extra = "".join(f"    {name} {kind},\n" for name, kind in EXTRA_COLUMNS.items())
    return (f"CREATE TABLE IF NOT EXISTS {table} (\n    task_id text,\n    status text,\n"
            f"    result blob,\n    date_done timestamp,\n    traceback blob,\n    children blob,\n"
            f"{extra}    {GUARD} text static,\n    PRIMARY KEY ((task_id), date_done)\n"
            f") WITH CLUSTERING ORDER BY (date_done DESC)")


def group_ddl(table: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table}_group (group_id text PRIMARY KEY, result blob, "
            f"date_done timestamp)")


def chord_ddl(table: str) -> str:
    """One partition per chord: ``kind`` 'p' part rows (by member), 's' the size row,
    'c' claim rows (one per arming, written only by ``INSERT ... IF NOT EXISTS``)."""
    return (f"CREATE TABLE IF NOT EXISTS {table}_chord (group_key text, kind text, member text, "
            f"idx int, value blob, size int, grown map<text, int>, arming text, "
            f"PRIMARY KEY ((group_key), kind, member))")


def _columns(run: Run, keyspace: str, table: str) -> set[str]:
    rows = run("SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s "
                           "AND table_name = %s", (keyspace, table))
    return {row[0] if isinstance(row, tuple) else row["column_name"] for row in rows}


def ensure_schema(run: Run, config: CassandraConfig) -> set[str]:
    """Create missing tables and add missing columns; return the task table's columns.

    A column that cannot be added (no ALTER permission) is left out with a warning, as the
    database plugin does: results are then stored without it.
    """
    table = config.table
    refused: Exception | None = None
    for ddl in (task_ddl(table), group_ddl(table), chord_ddl(table)):
        try:  # CREATE ... IF NOT EXISTS still needs the CREATE permission
            run(ddl)
        except Exception as exc:  # noqa: BLE001 - reported below if the table is missing
            refused = refused or exc
            log.warning("Cannot run %s (%s); using the table if it exists.", ddl.split("(")[0],
                        type(exc).__name__)
    present = _columns(run, config.keyspace, table)
    if not present and refused is not None:
        raise refused
    wanted = {**EXTRA_COLUMNS, GUARD: "text static"}
    for name, kind in wanted.items():
        if name in present:
            continue
        statement = f"ALTER TABLE {table} ADD {name} {kind}"
        try:
            run(statement)
            present.add(name)
        except Exception as exc:  # noqa: BLE001 - Unauthorized, or a concurrent ALTER
            present = _columns(run, config.keyspace, table)
            if name not in present:
                log.warning("Cannot add column %s to %s.%s (%s); results are stored without it. "
                            "To keep it, run: %s", name, config.keyspace, table,
                            type(exc).__name__, statement)
    return present
