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

__all__ = ["COMPRESSED_PAYLOAD_MAGIC", "compress_payload", "decompress_payload", "resolve_compression"]

COMPRESSED_PAYLOAD_MAGIC = b"\x00celery-compressed\x00"

_METHODS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "application/x-gzip": (zlib.compress, zlib.decompress),
    "application/x-bz2": (bz2.compress, bz2.decompress),
    "application/x-lzma": (lzma.compress, lzma.decompress),
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


def decompress_payload(payload: bytes) -> bytes:
    """Undo :func:`compress_payload`; payloads without the marker pass through."""
    if not payload.startswith(COMPRESSED_PAYLOAD_MAGIC):
        return payload
    content_type, sep, body = payload[len(COMPRESSED_PAYLOAD_MAGIC):].partition(b"\x00")
    method = _METHODS.get(content_type.decode("utf-8", "replace"))
    if not sep or method is None:
        raise DecodeError(
            f"Payload is compressed with {content_type[:64]!r}, which this reader cannot "
            f"decompress (supported: {sorted(_METHODS)})."
        )
    try:
        return method[1](body)
    except (zlib.error, OSError, lzma.LZMAError, ValueError) as exc:
        raise DecodeError(f"Corrupt compressed payload ({content_type.decode()}): {exc}") from exc
