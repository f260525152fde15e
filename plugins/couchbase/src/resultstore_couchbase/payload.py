"""How a result payload sits in a Couchbase document, and which SDK errors are transient.

Celery's ``CouchbaseBackend`` upserts its payload, a ``str`` of JSON, through the SDK's
default ``JSONTranscoder``: the document is that string as a JSON string value (flags
``FMT_JSON``), and its ``get(...).content`` is the ``str`` again.  :class:`PayloadTranscoder`
writes text payloads exactly so (Celery reads them) and binary ones (pickle, msgpack,
compressed) as raw bytes (``FMT_BYTES``: Celery's transcoder cannot write those), and reads
both back as bytes, plus a JSON document that is an object (written by another program) as
its JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from couchbase import exceptions as cb
from couchbase.constants import FMT_BYTES, FMT_JSON, FMT_UTF8
from couchbase.transcoder import Transcoder, get_decode_format

__all__ = ["PayloadTranscoder", "TRANSCODER", "is_transient"]


class PayloadTranscoder(Transcoder):  # type: ignore[misc]
    """Bytes in, bytes out; text as a JSON string (Celery's layout), the rest as raw bytes."""

    def encode_value(self, value: Any) -> tuple[bytes, int]:
        data = bytes(value)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data, FMT_BYTES
        return json.dumps(text, ensure_ascii=False).encode("utf-8"), FMT_JSON

    def decode_value(self, value: Any, flags: int) -> bytes:
        data = bytes(value)
        fmt = get_decode_format(flags)
        if fmt in (FMT_BYTES, FMT_UTF8):
            return data
        try:
            decoded = json.loads(data)
        except ValueError:
            return data  # not JSON after all: hand core the bytes (its codec decides)
        if isinstance(decoded, str):
            return decoded.encode("utf-8")
        return data


TRANSCODER = PayloadTranscoder()

#: Errors after which the same operation may succeed: timeouts, temporary failures,
#: a node going away, a locked document, rate limiting, a sync write still in progress.
_TRANSIENT = tuple(getattr(cb, name) for name in (
    "TimeoutException", "AmbiguousTimeoutException", "UnAmbiguousTimeoutException",
    "TemporaryFailException", "ServiceUnavailableException", "RequestCanceledException",
    "DocumentLockedException", "DurabilitySyncWriteInProgressException",
    "DurabilitySyncWriteAmbiguousException", "RateLimitedException") if hasattr(cb, name))


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT)
