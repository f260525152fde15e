"""Celery's tables (``celery_taskmeta``, ``celery_tasksetmeta``) plus resultstore's chord tables.

The task and group tables are declared exactly as ``celery/backends/database/models.py``
declares them (same columns, types, sequences and constraints), so that either side can
create them and both read and write the same rows.  resultstore adds, without changing
anything Celery reads:

* two nullable columns on the task table, ``group_id`` and ``parent_id`` (Celery's
  key/value backends keep them in the meta; its SQL backend drops them).  Celery's ORM
  neither selects nor writes them, so its rows simply leave them NULL;
* ``resultstore_chord`` (one counter row per chord) and ``resultstore_chordpart`` (one row
  per finished header task) for native, exactly-once chords.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

__all__ = ["Tables", "build_tables", "RESULTSTORE_TASK_COLUMNS", "ID_LENGTH"]

#: Length of Celery's ``task_id`` / ``taskset_id`` / name columns.
ID_LENGTH = 155
#: Columns of the task table that Celery does not have (added when missing).
RESULTSTORE_TASK_COLUMNS = ("group_id", "parent_id")

_Integer = sa.Integer().with_variant(sa.BigInteger(), "mssql")  # Celery's DialectSpecificInteger


@dataclass(frozen=True)
class Tables:
    """The four tables of one store, bound to one :class:`~sqlalchemy.MetaData`."""

    metadata: sa.MetaData
    task: sa.Table
    group: sa.Table
    chord: sa.Table
    chord_part: sa.Table


def build_tables(names: Mapping[str, str] | None = None,
                 schemas: Mapping[str, str] | None = None) -> Tables:
    """Declare the tables with ``database_table_names`` / ``database_table_schemas``.

    Keys are Celery's ``task`` and ``group``, plus ``chord`` and ``chord_part`` for
    resultstore's own tables (their schema defaults to the group table's).
    """
    names = dict(names or {})
    schemas = dict(schemas or {})
    metadata = sa.MetaData()
    task_schema = schemas.get("task")
    group_schema = schemas.get("group")
    chord_schema = schemas.get("chord", group_schema)
    task = sa.Table(
        names.get("task") or "celery_taskmeta", metadata,
        sa.Column("id", _Integer, sa.Sequence("task_id_sequence", schema=task_schema),
                  primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(ID_LENGTH), unique=True),
        sa.Column("status", sa.String(50), default="PENDING"),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("date_done", sa.DateTime, nullable=True, index=True),
        sa.Column("traceback", sa.Text, nullable=True),
        sa.Column("children", sa.LargeBinary, nullable=True),
        # result_extended columns (TaskExtended)
        sa.Column("name", sa.String(ID_LENGTH), nullable=True),
        sa.Column("args", sa.LargeBinary, nullable=True),
        sa.Column("kwargs", sa.LargeBinary, nullable=True),
        sa.Column("worker", sa.String(ID_LENGTH), nullable=True),
        sa.Column("retries", sa.Integer, nullable=True),
        sa.Column("queue", sa.String(ID_LENGTH), nullable=True),
        sa.Column("stamps", sa.LargeBinary, nullable=True),
        # resultstore's additions (nullable, invisible to Celery)
        sa.Column("group_id", sa.String(ID_LENGTH), nullable=True),
        sa.Column("parent_id", sa.String(ID_LENGTH), nullable=True),
        schema=task_schema,
        sqlite_autoincrement=True,
    )
    group = sa.Table(
        names.get("group") or "celery_tasksetmeta", metadata,
        sa.Column("id", _Integer, sa.Sequence("taskset_id_sequence", schema=group_schema),
                  autoincrement=True, primary_key=True),
        sa.Column("taskset_id", sa.String(ID_LENGTH), unique=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("date_done", sa.DateTime, nullable=True, index=True),
        schema=group_schema,
        sqlite_autoincrement=True,
    )
    chord = sa.Table(
        names.get("chord") or "resultstore_chord", metadata,
        sa.Column("group_key", sa.String(255), primary_key=True),
        sa.Column("size", sa.Integer, nullable=True),
        sa.Column("grow", sa.Integer, nullable=False, default=0),
        sa.Column("count", sa.Integer, nullable=False, default=0),
        sa.Column("done", sa.Boolean, nullable=False, default=False),
        sa.Column("date_done", sa.DateTime, nullable=False, index=True),
        schema=chord_schema,
    )
    chord_part = sa.Table(
        names.get("chord_part") or "resultstore_chordpart", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_key", sa.String(255), nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        sa.Column("idx", sa.Integer, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("group_key", "member"),
        schema=schemas.get("chord_part", chord_schema),
    )
    return Tables(metadata, task, group, chord, chord_part)
