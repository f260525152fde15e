"""Celery's document layout: ``{"id": <key>, "value": <payload>}``, partitioned on ``/id``.

Celery's ``CosmosDBSQLBackend`` stores the serialized meta as text in ``value`` under the
Celery key (``celery-task-meta-<id>``), in a collection whose partition key is the id.
resultstore writes the same documents and adds ``ttl`` (whole seconds, rounded up) when the
entry expires: the container's ``defaultTtl`` is -1, so Cosmos DB deletes the item that many
seconds after its last write and never returns it afterwards.  Payloads that are not UTF-8
text (pickle, msgpack, compression; Celery's backend cannot store those) go base64-encoded in
``value_b64`` instead, so a reader that does not know the field finds no ``value``.

A Cosmos DB id cannot hold ``/ \\ ? #``: those (and ``%``) are percent-encoded, so every key
Celery can store is unchanged (but for one holding ``%``).  Everything read back is hostile
input: a field of the wrong type reads as absent.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from resultstore.errors import DecodeError

__all__ = ["VALUE", "VALUE_B64", "TTL", "doc_id", "body", "value_of", "ttl_of"]

VALUE, VALUE_B64, TTL = "value", "value_b64", "ttl"
_UNSAFE = re.compile(r"[%/\\?#]")


def doc_id(key: str) -> str:
    """The item id (and partition key) of a resultstore key."""
    return _UNSAFE.sub(lambda m: f"%{ord(m.group(0)):02X}", key)


def ttl_of(ttl: float | None) -> int | None:
    """Cosmos DB's per-item ``ttl``: a positive whole number of seconds."""
    return None if not ttl else max(1, math.ceil(ttl))


def body(key: str, value: bytes, ttl: float | None) -> dict[str, Any]:
    """The item resultstore writes for ``key``."""
    item: dict[str, Any] = {"id": doc_id(key)}
    try:
        item[VALUE] = value.decode("utf-8")
    except UnicodeDecodeError:
        item[VALUE_B64] = base64.b64encode(value).decode("ascii")
    seconds = ttl_of(ttl)
    if seconds is not None:
        item[TTL] = seconds
    return item


def value_of(item: Any) -> bytes | None:
    """The payload of a stored item, ``None`` when it has none."""
    if not isinstance(item, dict):
        return None
    value = item.get(VALUE)
    if isinstance(value, str):
        return value.encode("utf-8")
    encoded = item.get(VALUE_B64)
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("Stored Cosmos DB payload: value_b64 is not base64.") from None
    return None
