"""Native chords on DynamoDB: exactly once even when requests or tasks are repeated.

One *chord item* per chord (``<group key>.chord``) holds ``size``, ``grow``, the set of
recorded ``members``, their ``chord_count`` and, once claimed, ``done``; one *part item*
per finished header task (``<group key>.p.<member>``) holds its value and index.

``add`` records the member with one conditional ``UpdateItem``
(``ADD members :m, chord_count :1`` unless ``contains(members, :m)``), so a part delivered
twice by the broker, or a request botocore retried after a lost response, is counted
once.  Completion is then *claimed* with a conditional ``SET done = :token`` that only
one caller can win; a retried claim recognises its own token.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from resultstore.errors import ChordError
from resultstore.spec import ChordProgress

from .table import KEY, TIMESTAMP, TTL, VALUE

if TYPE_CHECKING:
    from .store import DynamoDBStore

__all__ = ["DynamoDBChords"]

MEMBERS, COUNT, SIZE, GROW, DONE, INDEX = "members", "chord_count", "size", "grow", "done", "idx"


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoDBChords:
    """The ``chord_*`` methods of :class:`~resultstore_dynamodb.store.DynamoDBStore`."""

    def __init__(self, store: DynamoDBStore) -> None:
        self.store = store

    def _key(self, group_key: str) -> dict[str, Any]:
        from .store import item_id

        return {KEY: {"S": item_id(group_key + ".chord")}}

    def _update(self, group_key: str, values: dict[str, Any], names: dict[str, str],
                ttl: float | None, *, set_: tuple[str, ...] = (), add: tuple[str, ...] = (),
                remove: tuple[str, ...] = (), condition: str | None = None) -> dict[str, Any]:
        """One ``UpdateItem`` on the chord item, refreshing its ``ttl``; returns ALL_NEW."""
        names, values, sets = dict(names), dict(values), list(set_)
        expires = self.store._ttl(ttl, self.store.clock())
        if expires is not None:
            sets.append("#ttl = :ttl")
            names["#ttl"] = TTL
            values[":ttl"] = {"N": str(expires)}
        clauses = [f"{verb} {', '.join(parts)}"
                   for verb, parts in (("SET", sets), ("ADD", add), ("REMOVE", remove)) if parts]
        request: dict[str, Any] = {
            "TableName": self.store.table, "Key": self._key(group_key),
            "UpdateExpression": " ".join(clauses), "ReturnValues": "ALL_NEW",
            "ExpressionAttributeNames": names}
        if values:
            request["ExpressionAttributeValues"] = values
        if condition:
            request["ConditionExpression"] = condition
        return dict(self.store.client.update_item(**request).get("Attributes", {}))

    def _read(self, group_key: str) -> dict[str, Any]:
        return dict(self.store.client.get_item(TableName=self.store.table, Key=self._key(group_key),
                                               ConsistentRead=True).get("Item", {}))

    @staticmethod
    def _progress(item: dict[str, Any]) -> tuple[int, int | None]:
        count = int(item.get(COUNT, {}).get("N", 0))
        size = int(item[SIZE]["N"]) if SIZE in item else None
        grown = int(item.get(GROW, {}).get("N", 0))
        return count, None if size is None else size + grown

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size and re-arm the chord (Celery's ``DEL G.c``)."""
        self._update(group_key, {":s": {"N": str(size)}}, {"#s": SIZE, "#d": DONE}, ttl,
                     set_=("#s = :s",), remove=("#d",))

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self._update(group_key, {":by": {"N": str(by)}}, {"#g": GROW}, ttl, add=("#g :by",))

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        part: dict[str, Any] = self.store._item(f"{group_key}.p.{member}", value, ttl)
        if index is not None:
            part[INDEX] = {"N": str(index)}
        self.store.client.put_item(TableName=self.store.table, Item=part)
        try:
            item = self._update(
                group_key, {":mset": {"SS": [member]}, ":one": {"N": "1"}, ":m": {"S": member}},
                {"#m": MEMBERS, "#c": COUNT}, ttl, add=("#m :mset", "#c :one"),
                condition="NOT contains(#m, :m)")
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            item = self._read(group_key)  # a duplicate, or our own retried request
        count, expected = self._progress(item)
        if DONE in item or expected is None or count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key))

    def _claim(self, group_key: str) -> bool:
        token = uuid.uuid4().hex
        try:
            self._update(group_key, {":t": {"S": token}}, {"#d": DONE}, None,
                         set_=("#d = :t",), condition="attribute_not_exists(#d)")
            return True
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            return bool(self._read(group_key).get(DONE, {}).get("S") == token)

    def parts(self, group_key: str) -> list[bytes]:
        members = sorted(self._read(group_key).get(MEMBERS, {}).get("SS", []))
        if not members:
            return []
        from .store import item_id

        keys = [f"{group_key}.p.{m}" for m in members]
        items = self.store.batch_get_items([item_id(k) for k in keys])
        found = [items[i] for i in (item_id(k) for k in keys) if i in items]
        if len(found) != len(keys):
            raise ChordError(f"Chord {group_key}: {len(keys) - len(found)} of {len(keys)} parts "
                             f"are missing (expired?).")

        def order(item: dict[str, Any]) -> tuple[bool, float, float]:
            index = item.get(INDEX)
            return (index is None, float(index["N"]) if index else 0.0,
                    float(item.get(TIMESTAMP, {}).get("N", time.time())))

        return [bytes(item[VALUE]["B"]) for item in sorted(found, key=order)]

    def clear(self, group_key: str) -> None:
        """Drop the part items; the chord item stays (``done``) until its ttl."""
        members = self._read(group_key).get(MEMBERS, {}).get("SS", [])
        self.store.delete_many([f"{group_key}.p.{m}" for m in members])
        self._update(group_key, {":cleared": {"S": "cleared"}}, {"#d": DONE}, None,
                     set_=("#d = if_not_exists(#d, :cleared)",))
