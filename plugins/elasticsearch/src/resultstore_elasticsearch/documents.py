"""Celery's document layout: ``{"result": <meta>, "@timestamp": "...Z"}`` under ``_id = key``.

With ``elasticsearch_save_meta_as_text`` (the default) ``result`` is the encoded meta as one
JSON string.  Without it ``result`` is the meta as an object whose ``result`` and
``traceback`` (when truthy) are JSON strings, exactly as Celery's ``encode`` builds it.
Reads accept both forms whatever the setting.

resultstore adds ``expires`` (the write time plus the entry's lifetime) so that
:meth:`~resultstore_elasticsearch.store.ElasticsearchStore.cleanup` honours per-state
lifetimes; Celery ignores unknown fields.  Payloads that are not UTF-8 text (compressed,
transformed or pickled) are stored as ``BINARY_MARK`` + base64, which Celery cannot
decode and reports as an error instead of misreading.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from resultstore.errors import DecodeError

__all__ = ["BINARY_MARK", "RESULT", "TIMESTAMP", "EXPIRES", "stamp", "source", "value_of",
           "encode_text", "decode_text"]

#: Field names (``result`` and ``@timestamp`` are Celery's).
RESULT, TIMESTAMP, EXPIRES = "result", "@timestamp", "expires"
#: Prefix of a base64-encoded binary payload (never the start of a text serializer's output).
BINARY_MARK = "\x00resultstore-base64\x00"
#: The meta fields Celery serializes to strings in object mode.
_SERIALIZED = ("result", "traceback")


def stamp(moment: datetime) -> str:
    """Celery's ``@timestamp`` format: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode_text(value: bytes) -> str:
    """A payload as a JSON string: UTF-8 text as is, anything else marked base64."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    else:
        if not text.startswith("\x00"):
            return text
    return BINARY_MARK + base64.b64encode(value).decode("ascii")


def decode_text(text: str) -> bytes:
    """Undo :func:`encode_text`."""
    if not text.startswith(BINARY_MARK):
        return text.encode("utf-8")
    try:
        return base64.b64decode(text[len(BINARY_MARK):], validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("Stored Elasticsearch payload is marked base64 but is not.") from None


def _as_object(text: str) -> dict[str, Any] | None:
    """Celery's object-mode meta, or ``None`` when the payload is not a JSON object."""
    if not text.startswith("{"):
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    for name in _SERIALIZED:
        if meta.get(name):
            meta[name] = json.dumps(meta[name])
    return meta


def source(value: bytes, *, as_text: bool, now: datetime,
           ttl: float | None) -> dict[str, Any]:
    """The document body Celery writes for ``value`` (plus ``expires`` when ``ttl``)."""
    text = encode_text(value)
    stored: Any = text
    if not as_text and not text.startswith(BINARY_MARK):
        stored = _as_object(text) or text
    body: dict[str, Any] = {RESULT: stored, TIMESTAMP: stamp(now)}
    if ttl:
        body[EXPIRES] = stamp(now + timedelta(seconds=ttl))
    return body


def value_of(body: Any) -> bytes | None:
    """The payload in a document ``_source`` (either mode), ``None`` when it has none."""
    if not isinstance(body, dict):
        return None
    stored = body.get(RESULT)
    if isinstance(stored, str):
        return decode_text(stored)
    if not isinstance(stored, dict):
        return None
    meta = dict(stored)
    for name in _SERIALIZED:
        if meta.get(name):
            if not isinstance(meta[name], str):
                raise DecodeError(f"Stored Elasticsearch meta: {name!r} is not a JSON string.")
            try:
                meta[name] = json.loads(meta[name])
            except ValueError:
                raise DecodeError(f"Stored Elasticsearch meta: {name!r} is not JSON.") from None
    return json.dumps(meta).encode("utf-8")
