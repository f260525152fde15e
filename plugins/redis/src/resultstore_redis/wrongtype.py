"""Keys of another Redis type are corrupt results, on every read path.

``GET`` on a list raises ``WRONGTYPE`` while ``MGET`` answers nil for it, so a
batched read would call the task PENDING and a wait would never end.  Batched
reads check the keys ``MGET`` answered nil for with ``EXISTS``: more existing
keys than values means some key holds another type, and its ``TYPE`` (on that
error path only) names it in a :class:`~resultstore.errors.CorruptResultError`.
Small batches (a wait's reads) send ``EXISTS`` with ``MGET`` in one round trip;
large ones (joins) send ``MGET`` alone and ``EXISTS`` of the nil keys only if
there are any, since ``EXISTS`` of 1000 ready keys cost about as much as the
``MGET``.  The asyncio store sends both in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from resultstore.errors import CorruptResultError

__all__ = ["mget_commands", "raise_wrong_type", "is_wrong_type"]


def is_wrong_type(exc: BaseException) -> bool:
    return str(exc).startswith("WRONGTYPE")


def mget_commands(keys: Sequence[str], chunk: int) -> list[tuple[Any, ...]]:
    """``MGET`` + ``EXISTS`` per chunk of ``keys``, for one pipeline."""
    commands: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        commands += [("MGET", *part), ("EXISTS", *part)]
    return commands


def raise_wrong_type(keys: list[str], types: Callable[[list[str]], Sequence[Any]]) -> None:
    """Raise for the first of ``keys`` holding a non-string (keys written meanwhile pass)."""
    for key, kind in zip(keys, types(keys), strict=True):
        name = kind.decode() if isinstance(kind, bytes) else str(kind)
        if name not in ("none", "string"):
            raise CorruptResultError(
                f"Redis key {key!r} holds a {name}, not a stored result (a string): another "
                f"application writes this key name, or it was damaged. Delete or rename it.")
