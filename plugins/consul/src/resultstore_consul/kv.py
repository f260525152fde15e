"""Consul's HTTP answers and KV entries, read as hostile input.

A KV entry is ``{"Key", "Value" (base64 or null), "Flags", "ModifyIndex", "Session"?}``.
resultstore keeps the expiry of an entry in ``Flags`` (epoch milliseconds; ``0``: none,
which is what Celery's backend writes), and hands the shared blob logic a version
``"<ModifyIndex>:<Session>"``: the index for check-and-set, the session to unlock when
another session holds the key.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from resultstore.blob import Blob

__all__ = ["ConsulHTTPError", "TRANSIENT_STATUS", "check", "is_transient", "entry_blob",
           "kv_op", "flags_of"]

#: HTTP statuses worth a retry: timeouts, throttling, no leader, gateways.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_REASON_CHARS = 200


class ConsulHTTPError(Exception):
    """Consul answered an error status; core wraps it after retrying it when transient."""

    def __init__(self, status: int, reason: str, what: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(f"Consul {what}: HTTP {status}: {reason}".rstrip(": "))


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Raise :class:`ConsulHTTPError` for an error status; return the response otherwise."""
    if response.status_code < 400:
        return response
    raise ConsulHTTPError(response.status_code, response.text.strip()[:_REASON_CHARS], what)


def is_transient(exc: BaseException) -> bool:
    """Lost connections, timeouts, throttling and server errors; never other 4xx answers."""
    if isinstance(exc, ConsulHTTPError):
        return exc.status in TRANSIENT_STATUS
    return isinstance(exc, httpx.TransportError)


def flags_of(expires: float | None) -> int:
    """The ``Flags`` recording ``expires`` (epoch seconds)."""
    return 0 if expires is None else max(1, int(expires * 1000))


def entry_blob(entry: Any) -> Blob | None:
    """A KV entry as a :class:`~resultstore.blob.Blob`; ``None`` when it is not a valid entry."""
    if not isinstance(entry, dict):
        return None
    raw, index, flags = entry.get("Value"), entry.get("ModifyIndex"), entry.get("Flags")
    session = entry.get("Session")
    if raw is None:
        data = b""
    elif isinstance(raw, str):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        return None
    version = None
    if isinstance(index, int) and not isinstance(index, bool):
        version = f"{index}:{session if isinstance(session, str) else ''}"
    expires = None
    if isinstance(flags, int) and not isinstance(flags, bool) and flags > 0:
        expires = flags / 1000
    return Blob(data, version, expires)


def kv_op(verb: str, key: str, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
    """One KV operation of a ``/v1/txn`` request."""
    op: dict[str, Any] = {"Verb": verb, "Key": key, **fields}
    if data is not None:
        op["Value"] = base64.b64encode(data).decode("ascii")
    return {"KV": op}
