"""Native chords on a strongly consistent Riak bucket type, without listing keys.

The shared blob-store chords list ``<G>.`` after every part; listing keys in Riak walks
every key of the cluster, so chords here keep their bookkeeping in one object instead
(``G`` is the group key ``celery-taskset-meta-<id>``):

* ``G.p.<member>``, one per finished header task, created with ``If-None-Match: *`` so a
  redelivered part keeps the first value and is not counted twice;
* ``G.chord``: ``{"size", "grow", "members": [[member, index], ...], "ops"}``, changed only
  by writes carrying the vector clock read (a strongly consistent bucket refuses a stale
  one with ``412``), so each member is recorded once;
* ``G.c``, created if absent by the caller that recorded the last member: the one create
  that succeeds runs the body (a retried request recognises its token).

The members list lives in one object that each part rewrites: meant for chords of up to a
few thousand parts.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resultstore.blob import PreconditionFailed
from resultstore.errors import BackendError, ChordError
from resultstore.spec import ChordProgress

if TYPE_CHECKING:
    from .store import RiakStore

__all__ = ["RiakChords"]

ATTEMPTS = 100
#: ``add_to_chord`` tokens remembered (a retried grow is applied once).
_GROW_TOKENS = 64

Change = Callable[[dict[str, Any]], dict[str, Any] | None]


class RiakChords:
    """The ``chord_*`` methods of :class:`~resultstore_riak.store.RiakStore`."""

    def __init__(self, store: RiakStore) -> None:
        self.store = store

    def _change(self, base: str, change: Change, ttl: float | None) -> dict[str, Any]:
        """Apply ``change`` to ``<G>.chord`` by vector-clock-checked writes; the new state."""
        name = base + ".chord"
        for attempt in range(ATTEMPTS):
            current = self.store.read_blob(name, need_version=True)
            before: dict[str, Any] = {"size": None, "grow": 0, "members": [], "ops": []}
            if current is not None:
                loaded = json.loads(current.data)
                if isinstance(loaded, dict):
                    before = {**before, **loaded}
            after = change(before)
            if after is None:
                return before
            data = json.dumps(after).encode()
            try:
                if current is None:
                    self.store.write_blob(name, data, expires=self.store._deadline(ttl),
                                          if_absent=True)
                else:
                    self.store.write_blob(name, data, expires=self.store._deadline(ttl),
                                          if_version=current.version)
                return after
            except PreconditionFailed:
                time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.05)))
        raise BackendError(f"{base}: the chord object kept changing during {ATTEMPTS} writes")

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        base = self.store.name(group_key)
        self._change(base, lambda state: {**state, "size": int(size)}, ttl)
        self.store.delete_blob(base + ".c")  # a chord re-applied with the same id starts over

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        token = uuid.uuid4().hex

        def add(state: dict[str, Any]) -> dict[str, Any] | None:
            ops = list(state.get("ops") or [])
            if token in ops:
                return None
            return {**state, "grow": int(state.get("grow") or 0) + by,
                    "ops": [*ops, token][-_GROW_TOKENS:]}

        self._change(self.store.name(group_key), add, ttl)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        base = self.store.name(group_key)
        expires = self.store._deadline(ttl)
        try:
            self.store.write_blob(f"{base}.p.{member}", bytes(value), expires=expires,
                                  if_absent=True)
        except PreconditionFailed:
            pass  # redelivered: the first value stays

        def record(state: dict[str, Any]) -> dict[str, Any] | None:
            members = [list(m) for m in state.get("members") or []]
            if any(m[0] == member for m in members):
                return None
            return {**state, "members": [*members, [member, index]]}

        state = self._change(base, record, ttl)
        count = len(state.get("members") or [])
        size = state.get("size")
        expected = None if size is None else int(size) + int(state.get("grow") or 0)
        if expected is None or count != expected:
            return ChordProgress(count, expected, False)
        token = uuid.uuid4().hex.encode()
        try:
            self.store.write_blob(base + ".c", token, expires=expires, if_absent=True)
            return ChordProgress(count, expected, True)
        except PreconditionFailed:
            marker = self.store.read_blob(base + ".c")  # our own write, retried?
            return ChordProgress(count, expected, marker is not None and marker.data == token)

    def _members(self, base: str) -> list[list[Any]]:
        current = self.store.read_blob(base + ".chord")
        state = json.loads(current.data) if current is not None else {}
        return [list(m) for m in state.get("members") or []] if isinstance(state, dict) else []

    def parts(self, group_key: str) -> list[bytes]:
        base = self.store.name(group_key)
        members = self._members(base)

        def order(member: list[Any]) -> tuple[bool, float]:
            index = member[1]  # ties and parts without index: arrival order (stable sort)
            return (index is None, float(index) if index is not None else 0.0)

        ordered = sorted(members, key=order)
        blobs = self.store.read_blobs([f"{base}.p.{m[0]}" for m in ordered])
        missing = sum(blob is None for blob in blobs)
        if missing:
            raise ChordError(f"Chord {group_key}: {missing} of {len(blobs)} parts are missing "
                             f"(expired?).")
        return [blob.data for blob in blobs if blob is not None]

    def clear(self, group_key: str) -> None:
        """Drop the parts and the chord object; the marker stays until it expires."""
        base = self.store.name(group_key)
        names = [f"{base}.p.{m[0]}" for m in self._members(base)]
        self.store.delete_blobs([*names, base + ".chord"])
