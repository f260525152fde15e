"""Celery 5.7's in-band compressed payload format.

``b'\\x00celery-compressed\\x00' + content_type + b'\\x00' + body``.  A reader
must understand it whatever its own ``result_compression`` says.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable

from ..errors import DecodeError, ImproperlyConfigured
from ..inflate import inflate

__all__ = ["COMPRESSED_PAYLOAD_MAGIC", "compress_payload", "decompress_payload", "resolve_compression"]

COMPRESSED_PAYLOAD_MAGIC = b"\x00celery-compressed\x00"

#: Content type -> (compress, streaming format of :func:`resultstore.inflate.inflate`).
_METHODS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "application/x-gzip": (zlib.compress, "zlib"),  # kombu's "gzip" is a zlib stream
    "application/x-bz2": (bz2.compress, "bz2"),
    "application/x-lzma": (lzma.compress, "lzma"),
}
_ALIASES = {
    "gzip": "application/x-gzip", "zlib": "application/x-gzip",
    "bzip2": "application/x-bz2", "bzip": "application/x-bz2",
    "lzma": "application/x-lzma", "xz": "application/x-lzma",
}


def resolve_compression(name: str | None) -> str | None:
    """Return the content type of the ``result_compression`` method, or ``None``."""
    if not name:
        return None
    content_type = _ALIASES.get(name, name)
    if content_type not in _METHODS:
        raise ImproperlyConfigured(
            f"Unknown result_compression {name!r}; choose one of {sorted(_ALIASES)}."
        )
    return content_type


def compress_payload(payload: bytes, content_type: str) -> bytes:
    """Compress ``payload`` and prefix it with the self-describing marker."""
    body = _METHODS[content_type][0](payload)
    return b"".join((COMPRESSED_PAYLOAD_MAGIC, content_type.encode("utf-8"), b"\x00", body))


def decompress_payload(payload: bytes, limit: int) -> bytes:
    """Undo :func:`compress_payload` inflating at most ``limit`` bytes; others pass through."""
    if not payload.startswith(COMPRESSED_PAYLOAD_MAGIC):
        return payload
    content_type, sep, body = payload[len(COMPRESSED_PAYLOAD_MAGIC):].partition(b"\x00")
    name = content_type[:64].decode("utf-8", "replace")
    method = _METHODS.get(name)
    if not sep or method is None:
        raise DecodeError(
            f"Payload is compressed with {name!r}, which this reader cannot "
            f"decompress (supported: {sorted(_METHODS)})."
        )
    return inflate(body, method[1], limit, f"{name} compressed payload")
