"""Native chord methods forwarded to a store's own chord helper.

Stores that count chord parts natively (``Capability.CHORD``) usually keep the
bookkeeping in a helper object of their own (``self.chords``: documents, rows,
objects).  :class:`ForwardChords` is the one place that maps the store's
``chord_*`` methods onto such a helper; list it before the store base class::

    class ArangoStore(ForwardChords, KeyValueStore):
        def __init__(self, ...):
            self.chords = ArangoChords(self)
"""

from __future__ import annotations

from typing import Protocol

from .spec import ChordProgress

__all__ = ["ChordBook", "ForwardChords"]


class ChordBook(Protocol):
    """What a store's chord helper provides (same contract as the ``chord_*`` methods)."""

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None: ...

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress: ...

    def grow(self, group_key: str, by: int, ttl: float | None) -> None: ...

    def parts(self, group_key: str) -> list[bytes]: ...

    def clear(self, group_key: str) -> None: ...


class ForwardChords:
    """``chord_*`` store methods forwarded to ``self.chords`` (a :class:`ChordBook`)."""

    chords: ChordBook

    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        self.chords.set_size(group_key, size, ttl)

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        return self.chords.add(group_key, member, index, value, ttl)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self.chords.grow(group_key, by, ttl)

    def chord_parts(self, group_key: str) -> list[bytes]:
        return self.chords.parts(group_key)

    def chord_clear(self, group_key: str) -> None:
        self.chords.clear(group_key)
