"""Riak objects as Celery's former ``RiakBackend`` stored them, and Riak's HTTP answers.

Celery stored ``bucket.new(key, data=<serialized meta>)``: the ``riak`` client encodes
``data`` as JSON, so the object is a JSON *string* holding the serialized meta, with
``Content-Type: application/json``.  resultstore writes the same; a payload that is not
UTF-8 text (pickle, msgpack, compression) is stored as is with
``application/octet-stream``.  The expiry of ours rides in the user metadata header
``X-Riak-Meta-Resultstore-Expires`` (epoch seconds).  Siblings (``300 Multiple Choices``)
are resolved as Celery's client did (``last_written_resolver``): the latest
``Last-Modified`` wins.  Everything read is hostile input.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

import httpx

from resultstore.blob import Blob
from resultstore.errors import DecodeError

__all__ = ["RiakHTTPError", "TRANSIENT_STATUS", "EXPIRES", "check", "is_transient", "encode",
           "decode", "blob_of", "latest_sibling", "last_modified"]

EXPIRES = "X-Riak-Meta-Resultstore-Expires"
JSON, BINARY = "application/json", "application/octet-stream"
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_REASON_CHARS = 200


class RiakHTTPError(Exception):
    """Riak answered an error status; core wraps it after retrying it when transient."""

    def __init__(self, status: int, reason: str, what: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(f"Riak {what}: HTTP {status}: {reason}".rstrip(": "))


def check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code < 400:
        return response
    raise RiakHTTPError(response.status_code, response.text.strip()[:_REASON_CHARS], what)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, RiakHTTPError):
        return exc.status in TRANSIENT_STATUS
    return isinstance(exc, httpx.TransportError)


def encode(data: bytes) -> tuple[bytes, str]:
    """The body and content type of ``data`` (Celery's JSON string for text)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, BINARY
    return json.dumps(text).encode("utf-8"), JSON


def decode(body: bytes, content_type: str) -> bytes:
    """Undo :func:`encode`; a JSON body that is not a string is kept as JSON text."""
    if content_type.split(";")[0].strip().lower() != JSON:
        return body
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise DecodeError("Stored Riak object is application/json but not JSON.") from None
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8")


def last_modified(headers: Mapping[str, str] | Message) -> float | None:
    raw = headers.get("Last-Modified")
    try:
        return email.utils.parsedate_to_datetime(str(raw)).timestamp() if raw else None
    except (TypeError, ValueError):
        return None


def _expires(headers: Mapping[str, str] | Message) -> float | None:
    raw = headers.get(EXPIRES)
    try:
        return float(str(raw)) if raw else None
    except ValueError:
        return None


def blob_of(body: bytes, headers: Mapping[str, str] | Message, vclock: str | None) -> Blob:
    return Blob(decode(body, str(headers.get("Content-Type") or "")), vclock, _expires(headers))


def latest_sibling(response: httpx.Response) -> Blob | None:
    """The newest live sibling of a ``multipart/mixed`` answer (``None``: all deleted)."""
    head = f"Content-Type: {response.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + response.content)
    best: tuple[float, Message] | None = None
    for part in message.walk() if message.is_multipart() else []:
        if part.is_multipart() or str(part.get("X-Riak-Deleted", "")).lower() == "true":
            continue
        when = last_modified(part) or 0.0
        if best is None or when >= best[0]:
            best = (when, part)
    if best is None:
        return None
    payload = best[1].get_payload(decode=True)
    body = payload if isinstance(payload, bytes) else b""
    return blob_of(body, best[1], response.headers.get("X-Riak-Vclock"))
