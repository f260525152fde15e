"""Native chords on Cosmos DB: exactly once under repeated tasks and retried requests.

Three kinds of items per chord (``G`` is the group key ``celery-taskset-meta-<id>``), each in
its own logical partition (the partition key is the id):

* ``G.p.<member>``, one per finished header task, written with ``create_item`` so the first
  delivery's value stays and a duplicate is a harmless 409;
* ``G.chord`` with ``size``, ``grow`` and the ``members`` recorded so far, changed only by
  ``replace_item`` conditional on the ``_etag`` just read (``If-Match``; 412: read again), so
  a member is counted once however often it arrives;
* ``G.claim``, created with ``create_item`` by the caller that saw the last member: the one
  create that succeeds completes the chord (a retried request recognises its token).

The ``members`` list lives in one item, so each part rewrites it: meant for chords of up to a
few thousand parts (an item holds at most 2 MB).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resultstore.errors import BackendStoreError, ChordError
from resultstore.spec import ChordProgress

from .documents import body, doc_id, ttl_of, value_of

if TYPE_CHECKING:
    from .store import CosmosStore

__all__ = ["CosmosChords"]

#: Attempts at a conditional write on a contended chord item.
ATTEMPTS = 64

Change = Callable[[dict[str, Any]], dict[str, Any] | None]


class CosmosChords:
    """The ``chord_*`` methods of :class:`~resultstore_cosmosdbsql.store.CosmosStore`."""

    def __init__(self, store: CosmosStore) -> None:
        self.store = store

    def _change(self, group_key: str, change: Change, ttl: float | None) -> dict[str, Any]:
        """Apply ``change`` to the chord item by optimistic concurrency; the new fields."""
        key = group_key + ".chord"
        for attempt in range(ATTEMPTS):
            current = self.store.read(key)
            before = current or {"size": None, "grow": 0, "members": []}
            fields = {"size": before.get("size"), "grow": before.get("grow") or 0,
                      "members": list(before.get("members") or [])}
            after = change(fields)
            if after is None:
                return fields
            item = {"id": doc_id(key), **after}
            seconds = ttl_of(ttl)
            if seconds is not None:
                item["ttl"] = seconds
            if current is None:
                if self.store.create(item):
                    return after
            elif self.store.replace_if(item, current["_etag"]):
                return after
            time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.1)))
        raise BackendStoreError(f"Chord {group_key}: the chord item kept changing during "
                                f"{ATTEMPTS} conditional writes.")

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size and re-arm the chord (Celery's ``DEL G.c``)."""
        self._change(group_key, lambda doc: {**doc, "size": size}, ttl)
        self.store.delete(group_key + ".claim")

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self._change(group_key, lambda doc: {**doc, "grow": int(doc.get("grow") or 0) + by}, ttl)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        part = body(f"{group_key}.p.{member}", value, ttl)
        part["idx"] = index
        self.store.create(part)  # a duplicate keeps the first value

        def record(doc: dict[str, Any]) -> dict[str, Any] | None:
            members = list(doc.get("members") or [])
            return None if member in members else {**doc, "members": [*members, member]}

        doc = self._change(group_key, record, ttl)
        count = len(doc.get("members") or [])
        size = doc.get("size")
        expected = None if size is None else int(size) + int(doc.get("grow") or 0)
        if expected is None or count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        token = uuid.uuid4().hex
        if self.store.create({"id": doc_id(group_key + ".claim"), "token": token}):
            return True
        current = self.store.read(group_key + ".claim")  # our own retried request?
        return bool(current and current.get("token") == token)

    def _members(self, group_key: str) -> list[str]:
        current = self.store.read(group_key + ".chord")
        return [str(m) for m in current.get("members") or []] if current else []

    def parts(self, group_key: str) -> list[bytes]:
        keys = [f"{group_key}.p.{m}" for m in self._members(group_key)]
        found = self.store.read_many(keys)
        items = [found.get(doc_id(k)) for k in keys]
        if any(item is None for item in items):
            missing = sum(item is None for item in items)
            raise ChordError(f"Chord {group_key}: {missing} of {len(keys)} parts are missing "
                             f"(expired?).")

        def order(item: dict[str, Any]) -> tuple[bool, float]:
            index = item.get("idx")  # ties and parts without index: arrival order (stable)
            if isinstance(index, (int, float)) and not isinstance(index, bool):
                return (False, float(index))
            return (True, 0.0)

        values = [value_of(item) for item in sorted((i for i in items if i), key=order)]
        return [v for v in values if v is not None]

    def clear(self, group_key: str) -> None:
        """Drop the part items; the chord and claim items expire with their ``ttl``."""
        for member in self._members(group_key):
            self.store.delete(f"{group_key}.p.{member}")
