"""Native chords on MongoDB: exactly once even when parts are delivered twice.

Celery's ``MongoBackend`` has no chord support of its own: Celery polls the header with a
``celery.chord_unlock`` task.  Here, in the ``celery_chordmeta`` collection, one *chord
document* per chord (``_id`` = the group key) holds ``size``, ``grow``, the recorded
``members``, their ``count`` and, once claimed, ``done``; one *part document* per finished
header task (``_id`` ``<group key>.p.<member>``, in ``celery_chordmeta.parts``) holds its
encoded value and index.

``add`` writes the part document (an idempotent upsert), then records the member with one
atomic ``find_one_and_update`` whose filter is ``members: {$ne: member}`` and whose update
is ``$addToSet members`` + ``$inc count``: a part the broker delivers twice is counted once
(the second update matches nothing).  The caller that sees ``count == size + grow`` claims
completion with a second ``find_one_and_update`` on ``done: {$exists: false}``, which exactly
one caller wins.  On replica sets pymongo's retryable writes make a retried update apply
once; a duplicate that finds the chord full without ``done`` claims too, so a claim lost
with its response is not lost for good.  Every document carries ``date_done`` for the TTL
index (``result_chord_expires``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from resultstore.errors import ChordError
from resultstore.spec import ChordProgress

if TYPE_CHECKING:
    from .store import MongoStore

__all__ = ["MongoChords"]


def _progress(document: dict[str, Any] | None) -> tuple[int, int | None]:
    document = document or {}
    size = document.get("size")
    return int(document.get("count", 0)), None if size is None else int(size) + int(
        document.get("grow", 0))


class MongoChords:
    """The ``chord_*`` methods of :class:`~resultstore_mongodb.store.MongoStore`."""

    def __init__(self, store: MongoStore) -> None:
        self.store = store

    @property
    def collection(self) -> Any:
        collection = self.store.chord_docs
        if collection.name not in self.store._indexed:
            self.store.ensure_indexes(collection, self.store.config.chord_expires)
            self.store.ensure_indexes(self.store.part_docs, self.store.config.chord_expires)
        return collection

    def _now(self) -> datetime:
        return self.store.clock()

    def set_size(self, group_key: str, size: int) -> None:
        """Record the size and re-arm the chord (Celery's ``DEL G.c``)."""
        self.collection.update_one(
            {"_id": group_key},
            {"$set": {"size": int(size), "date_done": self._now()}, "$unset": {"done": ""},
             "$setOnInsert": {"count": 0, "grow": 0, "members": []}},
            upsert=True)

    def grow(self, group_key: str, by: int) -> None:
        self.collection.update_one({"_id": group_key},
                                   {"$inc": {"grow": int(by)}, "$set": {"date_done": self._now()}},
                                   upsert=True)

    def add(self, group_key: str, member: str, index: int | None, value: bytes) -> ChordProgress:
        collection, now = self.collection, self._now()
        self.store.part_docs.replace_one(
            {"_id": f"{group_key}.p.{member}"},
            {"chord": group_key, "idx": index, "value": value, "at": now, "date_done": now},
            upsert=True)
        try:
            document = collection.find_one_and_update(
                {"_id": group_key, "members": {"$ne": member}},
                {"$addToSet": {"members": member}, "$inc": {"count": 1},
                 "$set": {"date_done": now}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # the member is recorded already: a redelivered part
            document = collection.find_one({"_id": group_key})
        count, expected = _progress(document)
        if document is None or "done" in document or expected is None or count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        won = self.store.chord_docs.find_one_and_update(
            {"_id": group_key, "done": {"$exists": False}}, {"$set": {"done": uuid.uuid4().hex}})
        return won is not None

    def parts(self, group_key: str) -> list[bytes]:
        chord = self.store.chord_docs.find_one({"_id": group_key}, {"members": 1}) or {}
        members = list(chord.get("members", []))
        if not members:
            return []
        ids = [f"{group_key}.p.{m}" for m in members]
        found = list(self.store.part_docs.find({"_id": {"$in": ids}}))
        if len(found) != len(ids):
            raise ChordError(f"Chord {group_key}: {len(ids) - len(found)} of {len(ids)} parts "
                             f"are missing (expired?).")
        found.sort(key=lambda d: (d.get("idx") is None, d.get("idx") or 0, d.get("at")))
        return [bytes(d["value"]) for d in found]

    def clear(self, group_key: str) -> None:
        """Drop the part documents; the chord document stays (``done``) until its TTL."""
        self.store.part_docs.delete_many({"chord": group_key})
        self.store.chord_docs.update_one({"_id": group_key, "done": {"$exists": False}},
                                         {"$set": {"done": "cleared"}})
