"""Task metas and saved groups to MongoDB documents and back, as Celery's ``MongoBackend`` lays them out.

A task document is Celery's ``_get_result_meta(format_date=False)`` plus ``_id``::

    {_id: <task id>, status, result, traceback, children, date_done: <BSON date or null>,
     [group_id], [parent_id], [name, args, kwargs, worker, retries, queue, stamps...]}

``result`` is the only encoded field: with ``json`` (and ``yaml``) a string holding the
serialized value, with ``pickle``/``msgpack`` (or when compression/transforms are on) BSON
binary, with ``bson`` the value itself as native BSON (never compressed, as Celery's
``MongoBackend.encode`` returns it before any compression).  ``traceback``, ``children``, ``args`` and
``kwargs`` are stored as plain BSON values.  A group document is
``{_id: <group id>, result: <encoded list of member ids>, date_done}``; resultstore adds
``members`` (the full result tuple, plain BSON) so nested groups and parents survive a round
trip; Celery ignores it, and a group Celery wrote is rebuilt from the id list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from resultstore.codec import Codec
from resultstore.errors import DecodeError, ImproperlyConfigured, NotSupported
from resultstore.keys import RECORDS

__all__ = ["FieldCodec", "meta_to_document", "document_to_meta", "group_to_document",
           "document_to_group", "to_datetime"]

_EXTENDED = ("name", "args", "kwargs", "worker", "retries", "queue")
#: Document fields that are not the meta's own (``_id`` is ``task_id``).
_NOT_META = frozenset({"_id", "status", "result", "traceback", "children", "date_done",
                       "group_id", "parent_id", *_EXTENDED})


def to_datetime(value: Any) -> datetime | None:
    """A ``date_done`` (ISO string or datetime) as an aware UTC datetime (BSON keeps ms)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _isoformat(value: Any) -> Any:
    moment = to_datetime(value) if isinstance(value, datetime) else value
    return moment.isoformat() if isinstance(moment, datetime) else moment


class FieldCodec:
    """Encodes the ``result`` field as Celery's ``MongoBackend.encode`` does."""

    def __init__(self, codec: Codec | None) -> None:
        if codec is None:
            raise NotSupported("MongoStore is used before core bound its codec")
        self.codec = codec
        plain = not codec.compression and not codec.transforms
        self.text = codec.serializer.name in ("json", "yaml") and plain
        self.native = codec.serializer.name == "bson"
        if self.native and codec.transforms and codec.transforms.require_encryption:
            raise ImproperlyConfigured(
                "result_serializer='bson' stores results as native MongoDB documents, which the "
                "aes-gcm transform cannot encrypt: use result_serializer='json' (or pickle) with it."
            )

    def encode(self, value: Any, key: str) -> Any:
        """``value`` encoded for the record at ``key`` (what a signature is bound to)."""
        if self.native:
            return value
        payload = self.codec.encode(value, key)
        return payload.decode("utf-8") if self.text else payload

    def decode(self, value: Any, key: str) -> Any:
        """Decode a stored ``result``: text or binary only (stored documents are hostile input)."""
        if value is None or self.native:
            return value
        if not isinstance(value, (str, bytes)):
            raise DecodeError(f"A stored 'result' field holds {type(value).__name__}; Celery's "
                              f"documents hold the serialized value as a string or binary.")
        return self.codec.decode(value, key)


def meta_to_document(task_id: str, meta: Mapping[str, Any], fields: FieldCodec) -> dict[str, Any]:
    """The document Celery's ``_store_result`` writes for ``meta``."""
    document: dict[str, Any] = {
        "_id": task_id,
        "status": meta["status"],
        "result": fields.encode(meta.get("result"), RECORDS.task(task_id)),
        "traceback": meta.get("traceback"),
        "children": meta.get("children"),
        "date_done": to_datetime(meta.get("date_done")),
    }
    for key, value in meta.items():
        if key not in document and key != "task_id":
            document[key] = value  # group_id, parent_id, extended fields and stamps, in order
    return document


def document_to_meta(document: Mapping[str, Any], fields: FieldCodec,
                     extended: bool) -> dict[str, Any]:
    """The meta of a stored document (``_get_task_meta_for``; exceptions still as stored)."""
    if not isinstance(document.get("status"), str):
        raise DecodeError(f"Document {str(document.get('_id'))[:80]!r} is not a task result "
                          f"(no 'status' string).")
    meta: dict[str, Any] = {
        "task_id": document["_id"],
        "status": document.get("status"),
        "result": fields.decode(document.get("result"), RECORDS.task(str(document["_id"]))),
        "traceback": document.get("traceback"),
        "children": document.get("children"),
        "date_done": _isoformat(document.get("date_done")),
    }
    for key in ("group_id", "parent_id"):
        if document.get(key):
            meta[key] = document[key]
    if extended:
        for key in _EXTENDED:
            meta[key] = document.get(key)
        stamped = document.get("stamped_headers")
        if stamped:
            meta["stamped_headers"] = stamped
            meta.update({k: document[k] for k in stamped if k in document and k not in _NOT_META})
    return meta


def _member_ids(as_tuple: Any) -> list[str]:
    """Celery stores ``[r.id for r in group]``: the first item of each member tuple."""
    try:
        return [member[0][0] for member in as_tuple[1]]
    except (TypeError, IndexError, KeyError):
        return []


def group_to_document(group_id: str, meta: Mapping[str, Any], fields: FieldCodec,
                      now: Callable[[], datetime]) -> dict[str, Any]:
    as_tuple = meta.get("result")
    return {"_id": group_id, "result": fields.encode(_member_ids(as_tuple), RECORDS.group(group_id)),
            "date_done": now(), "members": as_tuple}


def document_to_group(document: Mapping[str, Any], fields: FieldCodec) -> dict[str, Any]:
    """``{'result': as_tuple}``: ours from ``members``, Celery's rebuilt from the id list."""
    ids = fields.decode(document.get("result"), RECORDS.group(str(document["_id"])))
    members = document.get("members")
    if members is not None and _member_ids(members) == list(ids or []):
        return {"result": members}
    return {"result": [[document["_id"], None], [[[task_id, None], None] for task_id in ids or []]]}
