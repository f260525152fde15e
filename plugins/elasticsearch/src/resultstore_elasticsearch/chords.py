"""Native chords on Elasticsearch: exactly once under repeated tasks and retried requests.

Three kinds of documents per chord (``G`` is the group key ``celery-taskset-meta-<id>``):

* ``G.p.<member>``, one per finished header task, written with ``op_type=create`` so the
  first delivery's value stays and a duplicate is a harmless 409;
* ``G.chord`` with ``size``, ``grow`` and the ``members`` recorded so far, changed only
  by optimistic concurrency (realtime GET, then a write conditional on ``if_seq_no`` /
  ``if_primary_term``, again on a 409), so a member is counted once however often it
  arrives;
* ``G.claim``, created with ``op_type=create`` by the caller that saw the last member: the
  one create that succeeds completes the chord (a retried request recognises its token).

Every read is a realtime GET/``_mget`` (no search, no refresh).  The ``members`` list
lives in one document, so each part rewrites it: meant for chords of up to a few thousand
parts.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from elasticsearch import ConflictError

from resultstore.errors import BackendStoreError, ChordError
from resultstore.spec import ChordProgress

from .documents import EXPIRES, TIMESTAMP, decode_text, encode_text, stamp

if TYPE_CHECKING:
    from .store import ElasticsearchStore

__all__ = ["ElasticsearchChords"]

SIZE, GROW, MEMBERS, PART, INDEX, TOKEN = "size", "grow", "members", "part", "idx", "token"
#: Attempts at a conditional write on a contended chord document.
ATTEMPTS = 64

Change = Callable[[dict[str, Any]], dict[str, Any] | None]


class ElasticsearchChords:
    """The ``chord_*`` methods of :class:`~resultstore_elasticsearch.store.ElasticsearchStore`."""

    def __init__(self, store: ElasticsearchStore) -> None:
        self.store = store

    def _stamps(self, ttl: float | None) -> dict[str, Any]:
        now = self.store.clock()
        stamps = {TIMESTAMP: stamp(now)}
        if ttl:
            stamps[EXPIRES] = stamp(now + timedelta(seconds=ttl))
        return stamps

    def _create(self, doc_id: str, body: dict[str, Any]) -> bool:
        """``op_type=create``: True if written, False if the document exists."""
        try:
            self.store.client.index(index=self.store.index, id=doc_id, document=body,
                                    op_type="create")
            return True
        except ConflictError:
            return False

    def _change(self, group_key: str, change: Change, ttl: float | None) -> dict[str, Any]:
        """Apply ``change`` to the chord document by optimistic concurrency; the new source."""
        doc_id = group_key + ".chord"
        for attempt in range(ATTEMPTS):
            current = self.store.get_document(doc_id)
            before = dict(current["_source"]) if current else {SIZE: None, GROW: 0, MEMBERS: []}
            after = change(before)
            if after is None:
                return before
            body = {**after, **self._stamps(ttl)}
            if current is None:
                if self._create(doc_id, body):
                    return body
            else:
                try:
                    self.store.client.index(index=self.store.index, id=doc_id, document=body,
                                            if_seq_no=current["_seq_no"],
                                            if_primary_term=current["_primary_term"])
                    return body
                except ConflictError:
                    pass
            time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.1)))
        raise BackendStoreError(f"Chord {group_key}: the chord document kept changing during "
                                f"{ATTEMPTS} conditional writes.")

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size and re-arm the chord (Celery's ``DEL G.c``)."""
        self._change(group_key, lambda doc: {**doc, SIZE: size}, ttl)
        self.store.delete(group_key + ".claim")

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self._change(group_key, lambda doc: {**doc, GROW: int(doc.get(GROW) or 0) + by}, ttl)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        part = {PART: encode_text(value), INDEX: index, **self._stamps(ttl)}
        self._create(f"{group_key}.p.{member}", part)  # a duplicate keeps the first value

        def record(doc: dict[str, Any]) -> dict[str, Any] | None:
            members = list(doc.get(MEMBERS) or [])
            return None if member in members else {**doc, MEMBERS: [*members, member]}

        doc = self._change(group_key, record, ttl)
        count = len(doc.get(MEMBERS) or [])
        size = doc.get(SIZE)
        expected = None if size is None else int(size) + int(doc.get(GROW) or 0)
        if expected is None or count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        token = uuid.uuid4().hex
        if self._create(group_key + ".claim", {TOKEN: token, **self._stamps(None)}):
            return True
        current = self.store.get_document(group_key + ".claim")  # our own retried request?
        return bool(current and current["_source"].get(TOKEN) == token)

    def _members(self, group_key: str) -> list[str]:
        current = self.store.get_document(group_key + ".chord")
        return list(current["_source"].get(MEMBERS) or []) if current else []

    def parts(self, group_key: str) -> list[bytes]:
        ids = [f"{group_key}.p.{m}" for m in self._members(group_key)]
        found = self.store.mget_sources(ids)
        if len(found) != len(ids):
            raise ChordError(f"Chord {group_key}: {len(ids) - len(found)} of {len(ids)} parts "
                             f"are missing (expired?).")

        def order(doc: dict[str, Any]) -> tuple[bool, float]:
            index = doc.get(INDEX)  # ties and parts without index: arrival order (stable sort)
            return (index is None, float(index) if index is not None else 0.0)

        return [decode_text(str(doc[PART])) for doc in sorted((found[i] for i in ids), key=order)]

    def clear(self, group_key: str) -> None:
        """Drop the part documents; the chord and claim documents stay until cleanup."""
        self.store.delete_many([f"{group_key}.p.{m}" for m in self._members(group_key)])
