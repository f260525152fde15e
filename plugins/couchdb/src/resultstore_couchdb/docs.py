"""Celery's document layout and CouchDB's HTTP answers, shared by the sync and asyncio stores.

Celery's ``CouchBackend`` keeps one document per key, ``{"_id": <key>, "value": <payload>}``,
the payload being the serialized meta as text.  resultstore writes the same documents and
adds, when the result expires, ``resultstore_expires`` (epoch seconds).  Payloads that are
not UTF-8 text (pickle, msgpack, compression, encryption; Celery's backend cannot store
those at all) are kept base64-encoded in ``value_b64`` instead of ``value``, so a reader
that does not know the field fails on the missing ``value`` instead of decoding garbage.

Everything read from the server is hostile input: fields of the wrong type are treated as
absent, never trusted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import httpx

from resultstore.blob import Blob

__all__ = ["VALUE", "VALUE_B64", "EXPIRES", "CouchDBHTTPError", "check", "doc_path", "encode_doc",
           "decode_doc", "rev_of", "expires_of", "date_done_of", "TRANSIENT_STATUS", "is_transient"]

VALUE, VALUE_B64, EXPIRES = "value", "value_b64", "resultstore_expires"
#: HTTP statuses worth a retry: timeouts, throttling, unavailable servers.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Characters of a server's error reason kept in an exception message.
_REASON_CHARS = 200


class CouchDBHTTPError(Exception):
    """CouchDB answered an error status (``status``, CouchDB's ``error`` name and ``reason``).

    Like an SDK's error, core wraps it (``BackendStoreError``/``BackendGetMetaError``, the
    operation named) after retrying it when :func:`is_transient`.
    """

    def __init__(self, status: int, error: str, reason: str, what: str) -> None:
        self.status, self.error, self.reason = status, error, reason
        super().__init__(f"CouchDB {what}: HTTP {status} {error}: {reason}".rstrip(": "))


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Raise :class:`CouchDBHTTPError` for an error status; return the response otherwise."""
    if response.status_code < 400:
        return response
    error = reason = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            error, reason = str(body.get("error", ""))[:50], str(body.get("reason", ""))
    except ValueError:
        reason = response.text
    raise CouchDBHTTPError(response.status_code, error, reason[:_REASON_CHARS], what)


def is_transient(exc: BaseException) -> bool:
    """Lost connections, timeouts, throttling and server errors; never 4xx answers."""
    if isinstance(exc, CouchDBHTTPError):
        return exc.status in TRANSIENT_STATUS
    return isinstance(exc, httpx.TransportError)


def doc_path(name: str) -> str:
    """The document's path relative to the database (every reserved character escaped)."""
    return quote(name, safe="")


def encode_doc(name: str, data: bytes, expires: float | None, rev: str | None = None) -> dict[str, Any]:
    """Celery's ``{"_id", "value"}`` (or ``value_b64``), plus the expiry and revision when given."""
    doc: dict[str, Any] = {"_id": name}
    if rev is not None:
        doc["_rev"] = rev
    try:
        doc[VALUE] = data.decode("utf-8")
    except UnicodeDecodeError:
        doc[VALUE_B64] = base64.b64encode(data).decode("ascii")
    if expires is not None:
        doc[EXPIRES] = float(expires)
    return doc


def expires_of(doc: dict[str, Any]) -> float | None:
    """The recorded expiry (epoch seconds), ``None`` when absent or not a number."""
    value = doc.get(EXPIRES)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def decode_doc(doc: Any) -> Blob | None:
    """A stored document as a :class:`~resultstore.blob.Blob`; ``None`` if it holds no value.

    ``value`` wins over ``value_b64``: Celery's backend updates a document by replacing
    ``value`` only, so a stale ``value_b64`` may remain beside it.
    """
    if not isinstance(doc, dict) or doc.get("_deleted"):
        return None
    rev = doc.get("_rev")
    version = rev if isinstance(rev, str) else None
    value = doc.get(VALUE)
    if isinstance(value, str):
        return Blob(value.encode("utf-8"), version, expires_of(doc))
    encoded = doc.get(VALUE_B64)
    if isinstance(encoded, str):
        try:
            return Blob(base64.b64decode(encoded, validate=True), version, expires_of(doc))
        except (binascii.Error, ValueError):
            return None
    return None


def rev_of(row: Any) -> str | None:
    """The revision in an ``_all_docs`` row without documents; ``None`` if absent or deleted."""
    value = row.get("value") if isinstance(row, dict) else None
    if not isinstance(value, dict) or value.get("deleted"):
        return None
    rev = value.get("rev")
    return rev if isinstance(rev, str) else None


def date_done_of(doc: dict[str, Any]) -> float | None:
    """The ``date_done`` inside a Celery JSON payload (epoch seconds), ``None`` if there is none.

    Celery writes ISO 8601, with an offset (5.x) or naive UTC (older releases).
    """
    value = doc.get(VALUE)
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        meta = json.loads(value)
        done = meta.get("date_done") if isinstance(meta, dict) else None
        if not isinstance(done, str):
            return None
        when = dt.datetime.fromisoformat(done)
    except (ValueError, RecursionError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()
