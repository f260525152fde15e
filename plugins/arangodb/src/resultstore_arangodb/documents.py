"""Celery's document layout: ``{"_key": <key>, "task": <payload>}`` in one collection.

Celery's ``ArangoDbBackend`` stores the serialized meta as text in ``task`` under the
Celery key (``celery-task-meta-<id>``).  resultstore writes the same documents and adds
``expires_at`` (epoch seconds) when the entry expires, the field of the collection's TTL
index.  Payloads that are not UTF-8 text (pickle, msgpack, compression; Celery's backend
cannot store those) go base64-encoded in ``task_b64`` instead, so a reader that does not
know the field finds no ``task`` (PENDING) instead of decoding garbage.

An ArangoDB ``_key`` admits ASCII letters, digits and ``_-:.@()+,=;$!*'%``; any other
character of a key (and ``%`` itself) is percent-encoded, so the keys Celery can store
stay exactly Celery's (but for a ``%`` in them); request paths percent-encode them once
more.  Everything read back is hostile input: a field of the wrong type reads as absent.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from urllib.parse import quote

from resultstore.errors import DecodeError

__all__ = ["TASK", "TASK_B64", "EXPIRES", "doc_key", "url_key", "body", "value_of", "live", "expires_at"]

TASK, TASK_B64, EXPIRES = "task", "task_b64", "expires_at"
#: The punctuation ArangoDB allows in a ``_key`` (``%`` is left out: it escapes the rest).
_KEY_SAFE = "_-:.@()+,=;$!*'"


def doc_key(key: str) -> str:
    """The ``_key`` of a resultstore key (Celery's keys are kept as they are)."""
    return quote(key, safe=_KEY_SAFE)


def url_key(key: str) -> str:
    """:func:`doc_key` as it goes into a request path (the server percent-decodes paths)."""
    return quote(doc_key(key), safe=_KEY_SAFE)


def expires_at(ttl: float | None, now: float | None = None) -> float | None:
    return None if not ttl else (time.time() if now is None else now) + ttl


def body(key: str, value: bytes, ttl: float | None) -> dict[str, Any]:
    """The document resultstore writes for ``key``."""
    doc: dict[str, Any] = {"_key": doc_key(key)}
    try:
        doc[TASK] = value.decode("utf-8")
    except UnicodeDecodeError:
        doc[TASK_B64] = base64.b64encode(value).decode("ascii")
    deadline = expires_at(ttl)
    if deadline is not None:
        doc[EXPIRES] = deadline
    return doc


def live(doc: Any, now: float | None = None) -> bool:
    """False for a document past its ``expires_at`` (the TTL index removes it later)."""
    if not isinstance(doc, dict):
        return False
    deadline = doc.get(EXPIRES)
    if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
        return deadline > (time.time() if now is None else now)
    return True


def value_of(doc: Any, now: float | None = None) -> bytes | None:
    """The payload of a stored document, ``None`` when it has none or has expired."""
    if not live(doc, now):
        return None
    task = doc.get(TASK)
    if isinstance(task, str):
        return task.encode("utf-8")
    encoded = doc.get(TASK_B64)
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("Stored ArangoDB payload: task_b64 is not base64.") from None
    return None
