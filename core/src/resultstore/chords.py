"""Chord part accounting: "record this header part; was it the last one?".

Exactly one caller learns that the chord is complete.  Stores declaring
``Capability.CHORD`` do it natively and atomically (Redis: Celery 5.7's Lua
protocol; SQL: a counter row), whichever their shape.  Key/value stores with
only ``INCR`` get :class:`IncrChords` (atomic counters plus one key per part:
correct unless the broker redelivers a part that was already counted).
Stores with neither cannot count; hosts then poll (Celery's ``chord_unlock``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import states
from .codec import Codec, check_part
from .errors import ChordError
from .keys import RECORDS, Keyspace
from .spec import Capability, KeyValueStore, MetaStore

__all__ = ["ChordPart", "ChordAccounting", "NativeChords", "IncrChords", "chord_accounting",
           "values_or_raise"]


@dataclass(frozen=True)
class ChordPart:
    """One finished header task, decoded."""

    task_id: str
    state: str
    result: Any


def values_or_raise(parts: Sequence[ChordPart]) -> list[Any]:
    """The header results in order; ``ChordError`` for the first failed part (as Celery)."""
    for part in parts:
        if part.state in states.PROPAGATE_STATES:
            raise ChordError(f"Dependency {part.task_id} raised {part.result!r}")
    return [part.result for part in parts]


class ChordAccounting:
    """Shared encoding of parts; subclasses do the counting."""

    def __init__(self, store: KeyValueStore | MetaStore, codec: Codec, keys: Keyspace,
                 expires: float | None) -> None:
        self.store = store
        self.codec = codec
        self.keys = keys
        self.expires = expires

    def encode_part(self, task_id: str, state: str, result: Any, *, group_id: str) -> bytes:
        return self.codec.encode([1, task_id, state, self.codec.encode_result(result, state)],
                                 RECORDS.group(group_id, ".j"))

    def decode_part(self, payload: bytes, *, group_id: str) -> ChordPart:
        key = RECORDS.group(group_id, ".j")
        task_id, state, result = check_part(self.codec.decode(payload, key), key)
        if state in states.EXCEPTION_STATES:
            result = self.codec.rebuild_exception(result, key)
        return ChordPart(task_id, state, result)

    def set_size(self, group_id: str, size: int) -> None:
        raise NotImplementedError

    def add(self, group_id: str, task_id: str, index: int | None, state: str,
            result: Any) -> list[ChordPart] | None:
        """Record a part; return every part (ordered) iff this call completed the chord."""
        raise NotImplementedError

    def grow(self, group_id: str, by: int = 1) -> None:
        raise NotImplementedError

    def clear(self, group_id: str) -> None:
        raise NotImplementedError


class NativeChords(ChordAccounting):
    """Delegates to the store's atomic ``chord_*`` methods."""

    def set_size(self, group_id: str, size: int) -> None:
        self.store.chord_set_size(self.keys.group(group_id), size, self.expires)

    def add(self, group_id: str, task_id: str, index: int | None, state: str,
            result: Any) -> list[ChordPart] | None:
        group_key = self.keys.group(group_id)
        part = self.encode_part(task_id, state, result, group_id=group_id)
        progress = self.store.chord_add(group_key, task_id, index, part, self.expires)
        if not progress.complete:
            return None
        return [self.decode_part(p, group_id=group_id) for p in self.store.chord_parts(group_key)]

    def grow(self, group_id: str, by: int = 1) -> None:
        self.store.chord_grow(self.keys.group(group_id), by, self.expires)

    def clear(self, group_id: str) -> None:
        self.store.chord_clear(self.keys.group(group_id))


class IncrChords(ChordAccounting):
    """Atomic counters only: a slot per part, then a completion count.

    Keys: ``<G>.s`` size, ``<G>.t`` growth (``add_to_chord``), ``<G>.n`` slot counter,
    ``<G>.j.<slot>`` one part each, ``chord-unlock-<gid>`` completed-writes counter
    (Celery's generic name).  A part takes a slot, writes its value, *then* counts itself, so the caller that
    brings the count to the size finds every slot written.  Correct for parts
    added with ``add_to_chord`` and parts without ``group_index``; a part the
    broker redelivers after it was counted is counted twice (no deduplication
    without ``Capability.CHORD``).
    """

    store: KeyValueStore

    def set_size(self, group_id: str, size: int) -> None:
        self.store.set(self.keys.group(group_id, ".s"), str(size).encode(), self.expires)

    def add(self, group_id: str, task_id: str, index: int | None, state: str,
            result: Any) -> list[ChordPart] | None:
        slot = self.store.incr(self.keys.group(group_id, ".n"), self.expires)
        order = b"-" if index is None else str(index).encode()
        part = self.encode_part(task_id, state, result, group_id=group_id)
        self.store.set(self.keys.group(group_id, f".j.{slot}"), order + b":" + part, self.expires)
        count = self.store.incr(self.keys.chord(group_id), self.expires)
        raw_size, raw_growth = self.store.mget([self.keys.group(group_id, ".s"),
                                                self.keys.group(group_id, ".t")])
        if raw_size is None or count != int(raw_size) + int(raw_growth or 0):
            return None
        payloads = self.store.mget([self.keys.group(group_id, f".j.{i}") for i in range(1, count + 1)])
        missing = [i for i, p in enumerate(payloads, 1) if p is None]
        if missing:
            raise ChordError(f"Chord {group_id}: parts in slots {missing[:10]} are missing (expired?).")
        ordered = sorted((_order_of(p), slot) for slot, p in enumerate(payloads) if p is not None)
        return [self.decode_part(payloads[slot].partition(b":")[2], group_id=group_id)  # type: ignore[union-attr]
                for _, slot in ordered]

    def grow(self, group_id: str, by: int = 1) -> None:
        key = self.keys.group(group_id, ".t")
        for _ in range(by):
            self.store.incr(key, self.expires)

    def clear(self, group_id: str) -> None:
        raw = self.store.get(self.keys.group(group_id, ".n"))
        slots = int(raw) if raw is not None else 0
        self.store.delete_many([self.keys.group(group_id, suffix) for suffix in (".s", ".t", ".n")]
                               + [self.keys.chord(group_id)]
                               + [self.keys.group(group_id, f".j.{i}") for i in range(1, slots + 1)])


def _order_of(payload: bytes) -> float:
    order = payload.partition(b":")[0]
    return float("inf") if order == b"-" else float(order)


def chord_accounting(store: Any, codec: Codec, keys: Keyspace,
                     expires: float | None) -> ChordAccounting | None:
    """The best accounting the store allows, ``None`` when hosts must poll.

    Record stores (:class:`MetaStore`) count natively when they declare ``CHORD``
    (e.g. SQL: an atomic counter row); they have no keys for :class:`IncrChords`.
    """
    if not isinstance(store, (KeyValueStore, MetaStore)):
        return None
    capabilities = store.capabilities
    if Capability.CHORD in capabilities:
        return NativeChords(store, codec, keys, expires)
    if Capability.INCR in capabilities and isinstance(store, KeyValueStore):
        return IncrChords(store, codec, keys, expires)
    return None
