"""One record interface over both store shapes, so the backend has one code path.

``KVRecords`` serializes metas into a :class:`~resultstore.spec.KeyValueStore`
under Celery's keys; ``MetaRecords`` hands the dicts to a
:class:`~resultstore.spec.MetaStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import states
from .codec import Codec, check_group
from .keys import RECORDS, Keyspace
from .spec import Capability, KeyValueStore, MetaStore

__all__ = ["Records", "KVRecords", "MetaRecords"]

#: Every Celery JSON meta starts with its status, so a stored SUCCESS starts so.
_JSON_SUCCESS_PREFIX = b'{"status": "SUCCESS"'


class Records:
    """Read and write task metas and saved groups (decoded dicts)."""

    def get(self, task_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def get_many(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        raise NotImplementedError

    def put(self, task_id: str, meta: dict[str, Any], ttl: float | None) -> int:
        """Write unless a SUCCESS is already stored; return bytes written (0: kept)."""
        raise NotImplementedError

    def delete(self, task_id: str) -> None:
        raise NotImplementedError

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def put_group(self, group_id: str, meta: dict[str, Any], ttl: float | None) -> None:
        raise NotImplementedError

    def delete_group(self, group_id: str) -> None:
        raise NotImplementedError


class KVRecords(Records):
    def __init__(self, store: KeyValueStore, codec: Codec, keys: Keyspace) -> None:
        self.store = store
        self.codec = codec
        self.keys = keys
        json_plain = codec.serializer.name == "json" and not codec.compression and not codec.transforms
        self.guarded = json_plain and Capability.GUARDED_SET in store.capabilities

    def _decode(self, task_id: str, payload: bytes | None) -> dict[str, Any] | None:
        return None if payload is None else self.codec.decode_meta(payload, RECORDS.task(task_id))

    def get(self, task_id: str) -> dict[str, Any] | None:
        return self._decode(task_id, self.store.get(self.keys.task(task_id)))

    def get_many(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        payloads = self.store.mget([self.keys.task(t) for t in task_ids])
        return [self._decode(t, p) for t, p in zip(task_ids, payloads, strict=True)]

    def put(self, task_id: str, meta: dict[str, Any], ttl: float | None) -> int:
        return self.put_payload(task_id, self.codec.encode(meta, RECORDS.task(task_id)), ttl)

    def put_payload(self, task_id: str, payload: bytes, ttl: float | None) -> int:
        """:meth:`put` of an already encoded meta."""
        key = self.keys.task(task_id)
        if self.guarded:
            written = self.store.set_unless_prefix(key, payload, ttl, _JSON_SUCCESS_PREFIX)
            return len(payload) if written else 0
        current = self.store.get(key)
        if current is not None and self._is_success(task_id, current):
            return 0
        self.store.set(key, payload, ttl)
        return len(payload)

    def _is_success(self, task_id: str, payload: bytes) -> bool:
        try:
            return bool(self.codec.decode(payload, RECORDS.task(task_id)).get("status")
                        == states.SUCCESS)
        except Exception:  # noqa: BLE001 - an unreadable value is overwritten, as Celery
            return False

    def delete(self, task_id: str) -> None:
        self.store.delete(self.keys.task(task_id))

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        payload = self.store.get(self.keys.group(group_id))
        if payload is None:
            return None
        key = RECORDS.group(group_id)
        return check_group(self.codec.decode(payload, key), key)

    def put_group(self, group_id: str, meta: dict[str, Any], ttl: float | None) -> None:
        self.store.set(self.keys.group(group_id), self.codec.encode(meta, RECORDS.group(group_id)),
                       ttl)

    def delete_group(self, group_id: str) -> None:
        self.store.delete(self.keys.group(group_id))


class MetaRecords(Records):
    def __init__(self, store: MetaStore, codec: Codec) -> None:
        self.store = store
        self.codec = codec
        store.bind_codec(codec)
        self.guarded = Capability.GUARDED_SET in store.capabilities

    def get(self, task_id: str) -> dict[str, Any] | None:
        meta = self.store.get_meta(task_id)
        return None if meta is None else self.codec.meta_from_decoded(dict(meta),
                                                                      RECORDS.task(task_id))

    def get_many(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        found = self.store.get_many_meta(task_ids)
        return [None if (m := found.get(t)) is None
                else self.codec.meta_from_decoded(dict(m), RECORDS.task(t)) for t in task_ids]

    def put(self, task_id: str, meta: dict[str, Any], ttl: float | None) -> int:
        if self.guarded:
            return int(self.store.set_meta_unless_success(task_id, meta))
        current = self.store.get_meta(task_id)
        if current is not None and current.get("status") == states.SUCCESS:
            return 0
        self.store.set_meta(task_id, meta)
        return 1

    def delete(self, task_id: str) -> None:
        self.store.delete_meta(task_id)

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        meta = self.store.get_group(group_id)
        return None if meta is None else check_group(meta, RECORDS.group(group_id))

    def put_group(self, group_id: str, meta: dict[str, Any], ttl: float | None) -> None:
        self.store.set_group(group_id, meta)

    def delete_group(self, group_id: str) -> None:
        self.store.delete_group(group_id)
