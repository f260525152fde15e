"""Native chords on ArangoDB: exactly once under repeated tasks and retried requests.

Three kinds of documents per chord (``G`` is the group key ``celery-taskset-meta-<id>``):

* ``G.p.<member>``, one per finished header task (``chord: G``, ``idx``, the value),
  created only if absent, so the first delivery's value stays and a duplicate is a
  harmless 409;
* ``G.chord`` with ``size`` and ``grow``, changed by revision-checked replaces;
* ``G.claim``, created only if absent by a caller that counted every part: the one insert
  that succeeds completes the chord (a retried request recognises its token).

After its insert, a caller counts the parts with one AQL query (a sparse persistent index
on ``chord`` serves it): the caller whose insert came last sees them all, so some caller
claims, and only one succeeds.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resultstore.errors import BackendStoreError, ChordError
from resultstore.spec import ChordProgress

from .documents import EXPIRES, body, doc_key, expires_at, value_of

if TYPE_CHECKING:
    from .store import ArangoStore

__all__ = ["ArangoChords", "PROGRESS", "PARTS", "CLEAR"]

#: Attempts at a revision-checked write on a contended chord document.
ATTEMPTS = 64
PROGRESS = ("LET c = DOCUMENT(@@col, @chord) RETURN {size: c.size, grow: c.grow, "
            "count: LENGTH(FOR d IN @@col FILTER d.chord == @group RETURN 1)}")
PARTS = "FOR d IN @@col FILTER d.chord == @group RETURN d"
CLEAR = "FOR d IN @@col FILTER d.chord == @group REMOVE d IN @@col"

Change = Callable[[dict[str, Any]], dict[str, Any]]


class ArangoChords:
    """The ``chord_*`` methods of :class:`~resultstore_arangodb.store.ArangoStore`."""

    def __init__(self, store: ArangoStore) -> None:
        self.store = store

    def _query(self, query: str, group_key: str) -> list[Any]:
        cursor = self.store.db.aql.execute(
            query, bind_vars={"@col": self.store.collection.name, "group": group_key,
                              **({"chord": doc_key(group_key + ".chord")}
                                 if "@chord" in query else {})})
        return list(cursor)  # type: ignore[arg-type]

    def _change(self, group_key: str, change: Change, ttl: float | None) -> None:
        key = group_key + ".chord"
        for attempt in range(ATTEMPTS):
            current = self.store.get_document(key)
            before = current or {"size": None, "grow": 0}
            after = {"_key": doc_key(key), "size": before.get("size"),
                     "grow": before.get("grow") or 0}
            after = change(after)
            deadline = expires_at(ttl)
            if deadline is not None:
                after[EXPIRES] = deadline
            if current is None:
                if self.store.insert_new(after):
                    return
            elif self.store.replace_if(key, after, current["_rev"]):
                return
            time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.1)))
        raise BackendStoreError(f"Chord {group_key}: the chord document kept changing during "
                                f"{ATTEMPTS} revision-checked writes.")

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size and re-arm the chord (Celery's ``DEL G.c``)."""
        self._change(group_key, lambda doc: {**doc, "size": size}, ttl)
        self.store.delete(group_key + ".claim")

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self._change(group_key, lambda doc: {**doc, "grow": int(doc.get("grow") or 0) + by}, ttl)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        part = body(f"{group_key}.p.{member}", value, ttl)
        part.update({"chord": group_key, "idx": index, "at": time.time_ns()})
        self.store.insert_new(part)  # a duplicate keeps the first value
        rows = self._query(PROGRESS, group_key)
        row = rows[0] if rows and isinstance(rows[0], dict) else {}
        count, size = int(row.get("count") or 0), row.get("size")
        expected = None if size is None else int(size) + int(row.get("grow") or 0)
        if expected is None or count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        token = uuid.uuid4().hex
        if self.store.insert_new({"_key": doc_key(group_key + ".claim"), "token": token}):
            return True
        current = self.store.get_document(group_key + ".claim")  # our own retried request?
        return bool(current and current.get("token") == token)

    def parts(self, group_key: str) -> list[bytes]:
        docs = [d for d in self._query(PARTS, group_key) if isinstance(d, dict)]

        def order(doc: dict[str, Any]) -> tuple[bool, float, float]:
            index, at = doc.get("idx"), doc.get("at")
            return (not isinstance(index, (int, float)),
                    float(index) if isinstance(index, (int, float)) else 0.0,
                    float(at) if isinstance(at, (int, float)) else 0.0)

        values = [value_of(doc, now=0.0) for doc in sorted(docs, key=order)]
        if any(v is None for v in values):
            raise ChordError(f"Chord {group_key}: a part document holds no value.")
        return [v for v in values if v is not None]

    def clear(self, group_key: str) -> None:
        """Drop the part documents; the chord and claim documents expire with the TTL."""
        self._query(CLEAR, group_key)
