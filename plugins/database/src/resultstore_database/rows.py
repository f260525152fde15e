"""Task metas to rows and back, column by column as Celery's ``DatabaseBackend`` does.

Celery 5.7 writes every blob column with the backend's serializer (``backend.encode``):
``result`` holds the encoded result (exception dicts included), ``children``/``args``/
``kwargs`` their serialized values, and ``stamps`` ``{'stamped_headers': [...], 'stamps':
{...}}``.  ``date_done`` is a timestamp column; resultstore writes naive UTC.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from resultstore.errors import DecodeError

__all__ = ["meta_to_row", "row_to_meta", "to_utc_naive", "decode_column"]

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]
_EXTENDED = ("name", "args", "kwargs", "worker", "retries", "queue")


def to_utc_naive(value: Any) -> datetime | None:
    """A ``date_done`` (ISO string or datetime) as the naive UTC datetime the column holds."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _isoformat(value: Any) -> Any:
    """A column datetime as Celery's ISO string; naive values are UTC."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def meta_to_row(meta: Mapping[str, Any], encode: Encode, columns: Iterable[str]) -> dict[str, Any]:
    """Column values for ``meta``, limited to the table's ``columns``.

    ``stamps`` is present only when the meta carries stamps, so that an update keeps
    stamps written earlier (as Celery does).
    """
    row: dict[str, Any] = {
        "status": meta["status"],
        "result": encode(meta.get("result")),
        "traceback": meta.get("traceback"),
        "date_done": to_utc_naive(meta.get("date_done")),
        "children": encode(meta["children"]) if meta.get("children") else None,
        "group_id": meta.get("group_id"),
        "parent_id": meta.get("parent_id"),
    }
    for field in ("name", "worker", "retries", "queue"):
        row[field] = meta.get(field)
    for field in ("args", "kwargs"):
        row[field] = encode(meta[field]) if field in meta else None
    stamped = meta.get("stamped_headers")
    if stamped:
        row["stamps"] = encode({"stamped_headers": stamped,
                                "stamps": {h: meta.get(h) for h in stamped if h in meta}})
    present = set(columns)
    return {key: value for key, value in row.items() if key in present}


def decode_column(payload: bytes | None, decode: Decode, accept: Iterable[str]) -> Any:
    """Decode one blob; rows from Celery before 4.0 (raw pickle) only when pickle is accepted."""
    if payload is None:
        return None
    payload = bytes(payload)
    try:
        return decode(payload)
    except DecodeError:
        if payload[:1] != b"\x80" or "application/x-python-serialize" not in set(accept):
            raise
        return pickle.loads(payload)  # legacy PickleType rows, and pickle is accepted


def row_to_meta(row: Mapping[Any, Any], decode: Callable[[bytes | None], Any],
                extended: bool) -> dict[str, Any]:
    """The meta dict of a row, in Celery's order (``_get_task_meta_for``)."""
    meta: dict[str, Any] = {
        "task_id": row["task_id"],
        "status": row["status"],
        "result": decode(row.get("result")),
        "traceback": row.get("traceback"),
        "date_done": _isoformat(row.get("date_done")),
        "children": decode(row.get("children")),
    }
    for field in ("group_id", "parent_id"):
        if row.get(field):
            meta[field] = row[field]
    if extended:
        for field in _EXTENDED:
            meta[field] = row.get(field)
        for field in ("args", "kwargs"):
            meta[field] = decode(row.get(field))
    stamps = decode(row.get("stamps")) if extended else None
    if isinstance(stamps, dict):
        if "stamped_headers" in stamps:
            meta["stamped_headers"] = stamps["stamped_headers"]
        if isinstance(stamps.get("stamps"), dict):
            meta.update(stamps["stamps"])
    return meta
