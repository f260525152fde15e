"""Native chords on DynamoDB: O(1) per part, exactly once even when requests or tasks repeat.

Items of the chord of group key ``G`` (each bounded, whatever the chord's size):

* the *chord item* ``G.chord``: ``size``, ``grow``, ``buckets`` (K, fixed by the first
  ``set_size``: one bucket per :data:`BUCKET` expected parts), ``arrivals`` and, once
  claimed, ``done``;
* K *bucket items* ``G.b.<k>``: the set of ``members`` hashed to bucket k and their
  ``chord_count`` (about :data:`BUCKET` each);
* a *part item* ``G.p.<member>`` per part: its value and index.

``add`` puts the part item (create-if-absent: the first value stays), then records
the member in its bucket with one conditional ``UpdateItem`` (``ADD members :m,
chord_count :1`` unless ``contains(members, :m)``): a part the broker delivers twice,
or a request botocore retried after a lost response, is counted once.  Then it adds
1 to the chord item's ``arrivals`` (``ALL_NEW``, a small item).  Each recording
precedes its own arrival, so the caller whose arrival is the last one finds every
part recorded; only callers that see ``arrivals >= size + grow`` sum the K bucket
counts (one ``BatchGetItem``, counts only).  Completion is then *claimed* with a
conditional ``SET done = :token`` that only one caller can win; a retried claim
recognises its own token.  No transaction: moto copies the whole table for each
``TransactWriteItems`` and fails them under concurrency, and the buckets need none.

Before issue 21 one set on the chord item held every member and each ``UpdateItem``
returned it whole: O(n) bytes per part, O(n²) per chord, and DynamoDB's 400 KB
item limit capped a chord near 10,000 parts.  A bucket now holds about 16 members.
"""

from __future__ import annotations

import math
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from resultstore.errors import ChordError
from resultstore.spec import ChordProgress

from .table import KEY, TIMESTAMP, TTL, VALUE

if TYPE_CHECKING:
    from .store import DynamoDBStore

__all__ = ["DynamoDBChords", "BUCKET"]

MEMBERS, COUNT, SIZE, GROW, DONE, INDEX, BUCKETS, ARRIVALS = (
    "members", "chord_count", "size", "grow", "done", "idx", "buckets", "arrivals")
#: Expected parts per bucket item (16 task ids: an item under 1 KB, one write unit).
BUCKET = 16
#: Bucket counts remembered per process (they never change once set).
_CACHED = 4096


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _number(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", 0))


class DynamoDBChords:
    """The ``chord_*`` methods of :class:`~resultstore_dynamodb.store.DynamoDBStore`."""

    def __init__(self, store: DynamoDBStore) -> None:
        self.store = store
        self._buckets: dict[str, int] = {}

    @staticmethod
    def _id(key: str) -> dict[str, Any]:
        from .store import item_id

        return {KEY: {"S": item_id(key)}}

    def _update(self, key: str, values: dict[str, Any], names: dict[str, str],
                ttl: float | None, *, set_: tuple[str, ...] = (), add: tuple[str, ...] = (),
                remove: tuple[str, ...] = (), condition: str | None = None,
                returns: str = "NONE") -> dict[str, Any]:
        """One ``UpdateItem`` on item ``key``, refreshing its ``ttl``."""
        names, values, sets = dict(names), dict(values), list(set_)
        expires = self.store._ttl(ttl, self.store.clock())
        if expires is not None:
            sets.append("#ttl = :ttl")
            names["#ttl"] = TTL
            values[":ttl"] = {"N": str(expires)}
        clauses = [f"{verb} {', '.join(parts)}"
                   for verb, parts in (("SET", sets), ("ADD", add), ("REMOVE", remove)) if parts]
        request: dict[str, Any] = {
            "TableName": self.store.table, "Key": self._id(key),
            "UpdateExpression": " ".join(clauses), "ReturnValues": returns,
            "ExpressionAttributeNames": names}
        if values:
            request["ExpressionAttributeValues"] = values
        if condition:
            request["ConditionExpression"] = condition
        return dict(self.store.client.update_item(**request).get("Attributes", {}))

    def _read(self, group_key: str) -> dict[str, Any]:
        return dict(self.store.client.get_item(TableName=self.store.table,
                                               Key=self._id(group_key + ".chord"),
                                               ConsistentRead=True).get("Item", {}))

    def _bucket_count(self, group_key: str, item: dict[str, Any] | None = None) -> int:
        """K of the chord (1 until a size is set; remembered once known)."""
        known = self._buckets.get(group_key)
        if known is not None:
            return known
        buckets = _number(item if item is not None else self._read(group_key), BUCKETS)
        if not buckets:
            return 1
        if len(self._buckets) >= _CACHED:
            self._buckets.clear()
        self._buckets[group_key] = buckets
        return buckets

    def _bucket_keys(self, group_key: str, buckets: int) -> list[str]:
        return [f"{group_key}.b.{k}" for k in range(buckets)]

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size (K on the first call) and re-arm the chord (Celery's ``DEL G.c``)."""
        self._update(group_key + ".chord",
                     {":s": {"N": str(size)}, ":k": {"N": str(max(1, math.ceil(size / BUCKET)))}},
                     {"#s": SIZE, "#d": DONE, "#k": BUCKETS}, ttl,
                     set_=("#s = :s", "#k = if_not_exists(#k, :k)"), remove=("#d",))

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self._update(group_key + ".chord", {":by": {"N": str(by)}}, {"#g": GROW}, ttl,
                     add=("#g :by",))

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        buckets = self._bucket_count(group_key)
        part: dict[str, Any] = self.store._item(f"{group_key}.p.{member}", value, ttl)
        if index is not None:
            part[INDEX] = {"N": str(index)}
        try:
            self.store.client.put_item(TableName=self.store.table, Item=part,
                                       ConditionExpression="attribute_not_exists(#k)",
                                       ExpressionAttributeNames={"#k": KEY})
        except ClientError as exc:  # written by an earlier delivery: its value stays
            if not _failed_condition(exc):
                raise
        bucket = zlib.crc32(member.encode("utf-8")) % buckets
        try:
            self._update(f"{group_key}.b.{bucket}",
                         {":mset": {"SS": [member]}, ":one": {"N": "1"}, ":m": {"S": member}},
                         {"#m": MEMBERS, "#c": COUNT}, ttl, add=("#m :mset", "#c :one"),
                         condition="NOT contains(#m, :m)")
        except ClientError as exc:  # a duplicate, or our own retried request
            if not _failed_condition(exc):
                raise
        item = self._update(group_key + ".chord", {":one": {"N": "1"}}, {"#a": ARRIVALS}, ttl,
                            add=("#a :one",), returns="ALL_NEW")
        arrivals = _number(item, ARRIVALS)
        expected = _number(item, SIZE) + _number(item, GROW) if SIZE in item else None
        if DONE in item or expected is None or arrivals < expected:
            return ChordProgress(arrivals, expected, False)
        counts = self.store.batch_get_items(
            [self._id(k)[KEY]["S"] for k in self._bucket_keys(group_key, buckets)],
            projection=(COUNT,))
        recorded = sum(_number(i, COUNT) for i in counts.values())
        if recorded != expected:
            return ChordProgress(recorded, expected, False)
        return ChordProgress(recorded, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        token = uuid.uuid4().hex
        try:
            self._update(group_key + ".chord", {":t": {"S": token}}, {"#d": DONE}, None,
                         set_=("#d = :t",), condition="attribute_not_exists(#d)")
            return True
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            return bool(self._read(group_key).get(DONE, {}).get("S") == token)

    def _members(self, group_key: str) -> tuple[list[str], list[str]]:
        """(bucket keys, every recorded member, sorted)."""
        keys = self._bucket_keys(group_key, self._bucket_count(group_key))
        items = self.store.batch_get_items([self._id(k)[KEY]["S"] for k in keys])
        return keys, sorted(m for i in items.values() for m in i.get(MEMBERS, {}).get("SS", []))

    def parts(self, group_key: str) -> list[bytes]:
        _, members = self._members(group_key)
        if not members:
            return []
        ids = [self._id(f"{group_key}.p.{m}")[KEY]["S"] for m in members]
        items = self.store.batch_get_items(ids)
        found = [items[i] for i in ids if i in items]
        if len(found) != len(ids):
            raise ChordError(f"Chord {group_key}: {len(ids) - len(found)} of {len(ids)} parts "
                             f"are missing (expired?).")

        def order(item: dict[str, Any]) -> tuple[bool, float, float]:
            index = item.get(INDEX)
            return (index is None, float(index["N"]) if index else 0.0,
                    float(item.get(TIMESTAMP, {}).get("N", time.time())))

        return [bytes(item[VALUE]["B"]) for item in sorted(found, key=order)]

    def clear(self, group_key: str) -> None:
        """Drop part and bucket items; the chord item stays (``done``) until its ttl."""
        keys, members = self._members(group_key)
        self.store.delete_many([f"{group_key}.p.{m}" for m in members] + keys)
        self._update(group_key + ".chord", {":cleared": {"S": "cleared"}}, {"#d": DONE}, None,
                     set_=("#d = if_not_exists(#d, :cleared)",))
        self._buckets.pop(group_key, None)
