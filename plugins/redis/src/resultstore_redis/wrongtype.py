"""Keys of another Redis type are corrupt results, on every read path.

``GET`` on a list raises ``WRONGTYPE`` while ``MGET`` answers nil for it, so a
batched read would call the task PENDING and a wait would never end.  Batched
reads therefore send ``EXISTS`` with ``MGET`` in the same round trip: more
existing keys than values means some key holds another type, and its ``TYPE``
(an extra round trip, on that error path only) names it in a
:class:`~resultstore.errors.CorruptResultError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from resultstore.errors import CorruptResultError

__all__ = ["mget_commands", "values_of", "raise_wrong_type", "is_wrong_type"]


def is_wrong_type(exc: BaseException) -> bool:
    return str(exc).startswith("WRONGTYPE")


def mget_commands(keys: Sequence[str], chunk: int) -> list[tuple[Any, ...]]:
    """``MGET`` + ``EXISTS`` per chunk of ``keys``, for one pipeline."""
    commands: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        commands += [("MGET", *part), ("EXISTS", *part)]
    return commands


def values_of(keys: Sequence[str], replies: Sequence[Any],
              types: Callable[[list[str]], Sequence[Any]]) -> list[bytes | None]:
    """The values of :func:`mget_commands`' replies; :class:`CorruptResultError` on another type."""
    values = [value for chunk in replies[0::2] for value in chunk]
    if sum(int(n) for n in replies[1::2]) > sum(value is not None for value in values):
        raise_wrong_type([k for k, v in zip(keys, values, strict=True) if v is None], types)
    return values


def raise_wrong_type(keys: list[str], types: Callable[[list[str]], Sequence[Any]]) -> None:
    """Raise for the first of ``keys`` holding a non-string (keys written meanwhile pass)."""
    for key, kind in zip(keys, types(keys), strict=True):
        name = kind.decode() if isinstance(kind, bytes) else str(kind)
        if name not in ("none", "string"):
            raise CorruptResultError(
                f"Redis key {key!r} holds a {name}, not a stored result (a string): another "
                f"application writes this key name, or it was damaged. Delete or rename it.")
