"""Native chords on Couchbase: one chord document updated by CAS, one document per part.

Celery's ``CouchbaseBackend`` has no chord support of its own (no ``incr``): Celery polls
the header with a ``celery.chord_unlock`` task.  Here:

* ``<group key>.p.<member>``: the part's encoded value (an idempotent ``upsert``);
* ``<group key>.chord``: a JSON document ``{"size", "grow", "members": {member: index},
  "done"}``.

``add`` writes the part document, then records the member in the chord document by
read-modify-write with CAS (``insert`` when there is none yet: ``DocumentExistsException``
if another worker created it first; ``replace`` with the CAS read: ``CasMismatchException``
if it changed meanwhile; either way read again and retry).  A member already recorded is not
counted again, so a part delivered twice counts once.  The update that records the last
member also sets ``done`` (a token of that call) in the same CAS write: exactly one caller
completes the chord.  A duplicate that finds the chord full without ``done`` (the size
arrived after the last part) claims it by the same CAS write.  ``set_size`` re-arms a chord
re-applied with the same group id (clears ``done``), as Celery's ``DEL G.c``.

Every part rewrites the chord document (its member map grows by one entry, ~50 bytes), so a
chord of n parts moves O(n^2) bytes in total: fine for thousands of parts, slow for
hundreds of thousands (and a document is limited to 20 MB, ~400,000 members).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from couchbase import exceptions as cb
from couchbase.options import GetMultiOptions, GetOptions, RemoveMultiOptions
from couchbase.transcoder import JSONTranscoder

from resultstore.errors import BackendError, ChordError
from resultstore.spec import ChordProgress

from .payload import TRANSCODER

if TYPE_CHECKING:
    from .store import CouchbaseStore

__all__ = ["CouchbaseChords"]

_JSON = JSONTranscoder()
_ATTEMPTS = 1000
#: Recent ``grow`` calls remembered in the chord document (a retried replace applies once).
_GROW_TOKENS = 64


def _expected(doc: dict[str, Any]) -> int | None:
    size = doc.get("size")
    return None if size is None else int(size) + int(doc.get("grow", 0))


class CouchbaseChords:
    """The ``chord_*`` methods of :class:`~resultstore_couchbase.store.CouchbaseStore`."""

    def __init__(self, store: CouchbaseStore) -> None:
        self.store = store

    def _doc(self, group_key: str) -> tuple[dict[str, Any] | None, int]:
        try:
            result = self.store.collection.get(f"{group_key}.chord", GetOptions(transcoder=_JSON))
        except cb.DocumentNotFoundException:
            return None, 0
        doc = result.value
        if not isinstance(doc, dict):
            raise ChordError(f"Chord {group_key}: the chord document is not a JSON object.")
        return doc, result.cas

    def _update(self, group_key: str, ttl: float | None,
                change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
        """Apply ``change`` (returns the new document, or ``None`` to leave it) by CAS."""
        key = f"{group_key}.chord"
        for _ in range(_ATTEMPTS):
            current, cas = self._doc(group_key)
            doc = dict(current or {"size": None, "grow": 0, "members": {}, "done": None})
            new = change(doc)
            if new is None:
                return doc
            written = (self.store.create(key, new, ttl, transcoder=_JSON) if current is None
                       else self.store.replace(key, new, ttl, cas, transcoder=_JSON))
            if written:
                return new
        raise BackendError(f"Chord {group_key}: too much write contention ({_ATTEMPTS} attempts)")

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        self._update(group_key, ttl, lambda doc: {**doc, "size": int(size), "done": None})

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        """Add ``by`` to the expected parts, once even if a replace is applied but its answer lost
        (the next attempt finds this call's token among the recent ones and stops)."""
        token = uuid.uuid4().hex

        def add(doc: dict[str, Any]) -> dict[str, Any] | None:
            recent = list(doc.get("grow_ops") or [])
            if token in recent:
                return None
            return {**doc, "grow": int(doc.get("grow", 0)) + int(by),
                    "grow_ops": [*recent, token][-_GROW_TOKENS:]}

        self._update(group_key, ttl, add)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        self.store.set(f"{group_key}.p.{member}", value, ttl)
        token = uuid.uuid4().hex

        def record(doc: dict[str, Any]) -> dict[str, Any] | None:
            members = dict(doc.get("members") or {})
            members.setdefault(member, index)
            expected = _expected(doc)
            full = expected is not None and len(members) == expected
            if member in (doc.get("members") or {}) and not (full and doc.get("done") is None):
                return None  # a duplicate: nothing to record, nothing to claim
            return {**doc, "members": members, "done": token if full and doc.get("done") is None
                    else doc.get("done")}

        doc = self._update(group_key, ttl, record)
        return ChordProgress(len(doc.get("members") or {}), _expected(doc), doc.get("done") == token)

    def parts(self, group_key: str) -> list[bytes]:
        doc, _ = self._doc(group_key)
        members = dict((doc or {}).get("members") or {})
        if not members:
            return []
        arrival = {member: n for n, member in enumerate(members)}
        order = sorted(members, key=lambda m: (members[m] is None, members[m] or 0, arrival[m]))
        keys = [f"{group_key}.p.{member}" for member in order]
        answer = self.store.collection.get_multi(
            keys, GetMultiOptions(transcoder=TRANSCODER, return_exceptions=True))
        for exc in answer.exceptions.values():
            if not isinstance(exc, cb.DocumentNotFoundException):
                raise exc
        found = {key: result.value for key, result in answer.results.items()}
        missing = [key for key in keys if key not in found]
        if missing:
            raise ChordError(f"Chord {group_key}: {len(missing)} of {len(keys)} parts are missing "
                             f"(expired?).")
        return [found[key] for key in keys]

    def clear(self, group_key: str) -> None:
        """Drop the part documents; the chord document stays (``done``) until it expires."""
        doc, _ = self._doc(group_key)
        keys = [f"{group_key}.p.{member}" for member in (doc or {}).get("members") or {}]
        if keys:
            answer = self.store.collection.remove_multi(keys, RemoveMultiOptions(return_exceptions=True))
            for exc in answer.exceptions.values():
                if not isinstance(exc, cb.DocumentNotFoundException):
                    raise exc
