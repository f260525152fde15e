"""Task metas to row values and back, column by column as Celery's ``CassandraBackend`` does.

Celery 5.7 writes ``result``, ``traceback`` and ``children`` as blobs serialized with the
backend's serializer (``buf_t(self.encode(...))``: so a missing traceback is the encoded
``None``), ``status`` as text and ``date_done`` as the write time, for every state (it is
the clustering key, so it cannot be null).  resultstore reports ``date_done`` only for
ready states, as every other backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from resultstore import states

from .schema import CELERY_COLUMNS, EXTRA_COLUMNS

__all__ = ["write_values", "row_to_meta", "pick_row", "select_columns", "to_utc", "row_key_time"]

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes | None], Any]
_BLOBS = ("args", "kwargs")


def to_utc(value: Any) -> datetime:
    """A ``date_done`` (ISO string, datetime or ``None`` for now) as an aware UTC datetime."""
    if value is None:
        return datetime.now(timezone.utc)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def row_key_time(value: Any, status: str) -> datetime:
    """The ``date_done`` clustering key of a write, in milliseconds (the column's precision):
    a SUCCESS takes the next *even* millisecond after ``value``, any other state the first
    *odd* millisecond from ``value`` on.

    Two writes in the same millisecond share a row and the later one overwrites it.  With
    the parity rule a FAILURE or RETRY written by resultstore never lands on a SUCCESS row,
    so a stored SUCCESS survives the race as a row of its own (readers prefer it), and a
    SUCCESS written after a STARTED/RETRY always sorts newer (Celery reads the newest).
    """
    moment = to_utc(value)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    millis = moment.microsecond // 1000
    if status == states.SUCCESS:
        return moment + timedelta(milliseconds=1 if millis % 2 else 2)
    return moment + timedelta(milliseconds=0 if millis % 2 else 1)


def select_columns(extras: Sequence[str]) -> list[str]:
    """Celery's SELECT columns plus the extra columns the table has."""
    return [*CELERY_COLUMNS, *extras]


def write_values(meta: Mapping[str, Any], encode: Encode, extras: Sequence[str],
                 unset: Any) -> dict[str, Any]:
    """Column values of one write; absent extras are ``unset`` (no tombstones)."""
    values: dict[str, Any] = {
        "status": meta["status"],
        "result": encode(meta.get("result")),
        "date_done": row_key_time(meta.get("date_done"), meta["status"]),
        "traceback": encode(meta.get("traceback")),
        "children": encode(meta.get("children")),
    }
    for name in extras:
        value = meta.get(name)
        if value is None:
            values[name] = unset
        elif name in _BLOBS:
            values[name] = encode(value)
        else:
            values[name] = int(value) if EXTRA_COLUMNS[name] == "int" else str(value)
    return values


def pick_row(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The row a reader reports: a stored SUCCESS if there is one, else the newest row.

    Celery reads the newest row (``LIMIT 1``); preferring a SUCCESS means a late FAILURE
    written after it (the race Celery's read-then-write leaves open) never hides it.
    """
    for row in rows:
        if row.get("status") == states.SUCCESS:
            return row
    return rows[0] if rows else None


def row_to_meta(task_id: str, row: Mapping[str, Any], decode: Decode,
                extended: bool) -> dict[str, Any]:
    """The meta dict of a row, in Celery's order (``_get_task_meta_for``)."""
    status = row["status"]
    done = row.get("date_done")
    meta: dict[str, Any] = {
        "task_id": task_id,
        "status": status,
        "result": decode(row.get("result")),
        "date_done": to_utc(done).isoformat() if done and status in states.READY_STATES else None,
        "traceback": decode(row.get("traceback")),
        "children": decode(row.get("children")),
    }
    for name in ("group_id", "parent_id"):
        if row.get(name):
            meta[name] = row[name]
    if extended:
        for name in ("name", "worker", "retries", "queue"):
            meta[name] = row.get(name)
        for name in _BLOBS:
            meta[name] = decode(row.get(name))
    return meta
