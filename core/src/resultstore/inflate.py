"""Bounded decompression: stored payloads are hostile, so nothing inflates past a limit.

A 1.6 KB bz2 stream can hold 2 GiB of zeros.  :func:`inflate` asks the
decompressor for at most ``limit + 1`` bytes, so peak memory stays near the
limit whatever the compressed data claims, and refuses the payload with a
:class:`~resultstore.errors.DecodeError` naming the limit and its setting.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from .errors import DecodeError

__all__ = ["inflate", "check_size", "DECOMPRESSORS", "SETTING", "DEFAULT_MAX_PAYLOAD_SIZE"]

#: The setting bounding every decoded payload (bytes; ``0`` disables the bound).
SETTING = "resultstore_max_payload_size"
#: 64 MiB: far above a sane task result, far below what hurts a worker.
DEFAULT_MAX_PAYLOAD_SIZE = 64 * 1024 * 1024

#: liblzma's own memory bound: the decoder of ``xz -9`` needs 65 MiB (its dictionary);
#: a stream declaring a bigger dictionary is refused instead of allocated.
LZMA_MEMLIMIT = 80 * 1024 * 1024

#: Streaming decompressor factories by format name.
DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    "zlib": zlib.decompressobj,
    "bz2": bz2.BZ2Decompressor,
    "lzma": lambda: lzma.LZMADecompressor(memlimit=LZMA_MEMLIMIT),
}
#: Output produced per decompressor call.
CHUNK = 1 << 20
_ERRORS = (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError)


def too_large(limit: int, what: str) -> DecodeError:
    return DecodeError(
        f"Refusing a stored {what} that decodes to more than {limit} bytes "
        f"({SETTING}={limit}). Raise {SETTING} if results this large are expected."
    )


def check_size(payload: bytes, limit: int, what: str = "payload") -> bytes:
    """Return ``payload`` unless it is longer than ``limit`` (``0``: no limit)."""
    if limit and len(payload) > limit:
        raise too_large(limit, what)
    return payload


def inflate(data: bytes, method: str, limit: int, what: str) -> bytes:
    """Decompress ``data`` (``method``: a key of :data:`DECOMPRESSORS`) to at most ``limit`` bytes.

    Output is produced :data:`CHUNK` bytes at a time and joined only once it is
    known to fit, so refusing a bomb costs about ``limit`` bytes.  Concatenated
    streams are read as one (as :func:`bz2.decompress` does); a truncated or
    corrupt stream is a :class:`DecodeError`.
    """
    chunks: list[bytes] = []
    try:
        while True:
            data = _stream(DECOMPRESSORS[method](), data, method == "zlib", chunks, limit, what)
            if not data:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except DecodeError:
        raise
    except _ERRORS as exc:
        raise DecodeError(f"Corrupt {what} ({method}): {exc}") from exc


def _stream(decompressor: Any, data: bytes, zlib_api: bool, chunks: list[bytes], limit: int,
            what: str) -> bytes:
    """Append one stream's output to ``chunks``; return the input left after it."""
    pending = data
    total = sum(map(len, chunks))
    while True:
        want = min(CHUNK, limit - total + 1) if limit else CHUNK
        chunk = decompressor.decompress(pending, want)
        chunks.append(chunk)
        total += len(chunk)
        if limit and total > limit:
            raise too_large(limit, what)
        if decompressor.eof:
            return bytes(decompressor.unused_data)
        # zlib hands back the input it did not use; bz2/lzma keep it inside
        pending = decompressor.unconsumed_tail if zlib_api else b""
        exhausted = (not chunk and not pending) if zlib_api else decompressor.needs_input
        if exhausted:
            raise DecodeError(f"Corrupt {what}: the stream is truncated.")
