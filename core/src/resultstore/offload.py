"""Large-result offload (claim check): big results go to another store, a pointer stays.

With ``resultstore_offload_url`` (a resultstore URL: ``s3://``, ``gs://``, ``file://``...)
and ``resultstore_offload_threshold`` (bytes of the encoded meta), a result whose
encoded meta is larger than the threshold is written to the offload store first,
then the primary store gets a small *pointer meta*: a valid Celery meta with the
same ``status``, ``task_id`` and ``date_done`` whose ``result`` is::

    {"resultstore_offload": 1, "key": "<object key>", "size": <bytes>,
     "sha256": "<hex digest>", "location": "<offload URL, password masked>"}

Readers with the setting fetch the object (one batched ``mget`` for many), check its
size and digest, and decode it as the meta of the same record; a missing or corrupt
object is an :class:`~resultstore.errors.OffloadError`, never a wrong value.  Readers
without it (Celery's own backend included) see the pointer dict as the result.
Exception states are never offloaded (Celery rebuilds their result as an exception).
Core only: the offload store is any resultstore key/value store, opened by URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypeGuard

from . import states
from .chords import ChordPart
from .codec import Codec
from .errors import ImproperlyConfigured, OffloadedResultMissing, OffloadError
from .keys import RECORDS, Keyspace
from .masking import mask_url
from .records import KVRecords, Records
from .spec import Capability, KeyValueStore

__all__ = ["Offload", "OffloadRecords", "POINTER_FIELD", "is_pointer"]

#: The key of the pointer dict that marks an offloaded result.
POINTER_FIELD = "resultstore_offload"
#: Seconds an object outlives its pointer, so a pointer never outlives its object.
GRACE = 60.0


def is_pointer(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and value.get(POINTER_FIELD) == 1


class Offload:
    """Writes big metas to the offload store and resolves pointers back to them."""

    def __init__(self, url: str, threshold: int, settings: Any, codec: Codec, keys: Keyspace) -> None:
        from .connect import connect

        options = {k: v for k, v in settings.items() if k != "resultstore_offload_url"}
        store = connect(url, options).store
        if not isinstance(store, KeyValueStore):
            raise ImproperlyConfigured(
                f"resultstore_offload_url must name a key/value store (s3://, gs://, "
                f"azureblockblob://, file://, redis://...); {mask_url(url)} is a record store."
            )
        if threshold <= 0:
            raise ImproperlyConfigured("resultstore_offload_threshold must be a positive byte count.")
        self.store = store
        self.location = mask_url(url)
        self.threshold = threshold
        self.codec = codec
        self.keys = keys

    # -- writing ----------------------------------------------------------
    def pointer_for(self, task_id: str, meta: dict[str, Any], ttl: float | None
                    ) -> tuple[dict[str, Any] | None, bytes | None]:
        """Offload ``meta`` if it is big enough: write the object, return the pointer meta.

        Otherwise ``(None, encoded meta)`` (``None`` for exception states, never offloaded),
        so a key/value store writes the bytes already encoded.
        """
        if meta["status"] in states.EXCEPTION_STATES:
            return None, None
        payload = self.codec.encode(meta, RECORDS.task(task_id))
        if len(payload) <= self.threshold:
            return None, payload
        digest = hashlib.sha256(payload).hexdigest()
        key = self.object_key(task_id, digest)
        self.store.set(key, payload, None if ttl is None else ttl + GRACE)
        pointer = {POINTER_FIELD: 1, "key": key, "size": len(payload), "sha256": digest,
                   "location": self.location}
        return {**meta, "result": pointer}, None

    def object_key(self, task_id: str, digest: str) -> str:
        """Digest-named, so a refused overwrite of a kept SUCCESS never clobbers its object."""
        return f"{self.keys.task(task_id)}.offload-{digest[:32]}"

    def cleanup(self) -> int:
        """Delete expired objects where the offload store does not expire them itself."""
        return self.store.cleanup() if Capability.CLEANUP in self.store.capabilities else 0

    def delete(self, meta: dict[str, Any] | None) -> None:
        if meta is not None and is_pointer(meta.get("result")):
            self.store.delete(str(meta["result"]["key"]))

    # -- chord parts --------------------------------------------------------
    def _part_key(self, group_id: str, task_id: str, digest: str) -> str:
        return f"{self.keys.group(group_id)}.part-{task_id}.offload-{digest[:32]}"

    @staticmethod
    def _part_record(group_id: str, task_id: str) -> str:
        return f"{RECORDS.group(group_id)}.part-{task_id}"

    def part_result(self, group_id: str, task_id: str, state: str, result: Any,
                    ttl: float | None) -> Any:
        """A chord part's result, or a pointer to it when it is big (same rules as metas)."""
        if state in states.EXCEPTION_STATES:
            return result
        payload = self.codec.encode(result, self._part_record(group_id, task_id))
        if len(payload) <= self.threshold:
            return result
        digest = hashlib.sha256(payload).hexdigest()
        key = self._part_key(group_id, task_id, digest)
        self.store.set(key, payload, None if ttl is None else ttl + GRACE)
        return {POINTER_FIELD: 1, "key": key, "size": len(payload), "sha256": digest,
                "location": self.location}

    def resolve_parts(self, group_id: str, parts: list[ChordPart]) -> list[ChordPart]:
        """The parts with offloaded results fetched (one batched read) and checked."""
        wanted = [i for i, part in enumerate(parts) if is_pointer(part.result)]
        if not wanted:
            return parts
        keys = [self._check_pointer(parts[i].task_id, parts[i].result, group_id) for i in wanted]
        resolved = list(parts)
        for i, payload in zip(wanted, self.store.mget(keys), strict=True):
            part = parts[i]
            body = self._verified(part.task_id, part.result, payload)
            value = self.codec.decode(body, self._part_record(group_id, part.task_id))
            resolved[i] = ChordPart(part.task_id, part.state, value)
        return resolved

    # -- reading ----------------------------------------------------------
    def _check_pointer(self, task_id: str, pointer: dict[str, Any], part_of: str | None = None) -> str:
        """The object key of a well-formed pointer of this task (or chord part); checked before fetching."""
        key, size, digest = pointer.get("key"), pointer.get("size"), pointer.get("sha256")
        expected = (None if not isinstance(digest, str) else self.object_key(task_id, digest)
                    if part_of is None else self._part_key(part_of, task_id, digest))
        if not (isinstance(key, str) and isinstance(size, int) and key == expected):
            raise OffloadError(f"The offload pointer of task {task_id!r} is malformed "
                               f"(key, size or sha256 missing, or a key of another task).")
        limit = self.codec.max_payload_size
        if limit and size > limit:
            raise OffloadError(
                f"The offloaded result of task {task_id!r} is {size} bytes, over "
                f"resultstore_max_payload_size ({limit}): raise it to read this result."
            )
        return key

    def _open(self, task_id: str, pointer: dict[str, Any], payload: bytes | None) -> dict[str, Any]:
        meta = self.codec.decode_meta(self._verified(task_id, pointer, payload), RECORDS.task(task_id))
        if is_pointer(meta.get("result")):
            raise OffloadError(f"The offloaded result of task {task_id!r} is itself a pointer.")
        return meta

    def _verified(self, task_id: str, pointer: dict[str, Any], payload: bytes | None) -> bytes:
        if payload is None:
            raise OffloadedResultMissing(
                f"The offloaded result of task {task_id!r} is missing from {self.location} "
                f"(key {pointer['key']!r}): expired, deleted or never written."
            )
        if len(payload) != pointer["size"] or hashlib.sha256(payload).hexdigest() != pointer["sha256"]:
            raise OffloadError(
                f"The offloaded result of task {task_id!r} in {self.location} does not match "
                f"its pointer's size and sha256: corrupt or replaced; refusing it."
            )
        return payload

    def resolve(self, task_id: str, meta: dict[str, Any]) -> dict[str, Any]:
        """``meta``, with an offloaded result fetched and checked."""
        pointer = meta.get("result")
        if not is_pointer(pointer):
            return meta
        key = self._check_pointer(task_id, pointer)
        return self._open(task_id, pointer, self.store.get(key))

    def resolve_many(self, task_ids: Sequence[str], metas: Sequence[dict[str, Any] | None]
                     ) -> list[dict[str, Any] | None]:
        """Resolve every pointer among ``metas`` with one batched read of the offload store."""
        wanted = [(i, self._check_pointer(task_ids[i], m["result"]))
                  for i, m in enumerate(metas) if m is not None and is_pointer(m.get("result"))]
        if not wanted:
            return list(metas)
        payloads = self.store.mget([key for _, key in wanted])
        resolved = list(metas)
        for (i, _), payload in zip(wanted, payloads, strict=True):
            meta = metas[i]
            assert meta is not None
            resolved[i] = self._open(task_ids[i], meta["result"], payload)
        return resolved


class OffloadRecords(Records):
    """The backend's records, with big task metas offloaded (groups pass through)."""

    def __init__(self, inner: Records, offload: Offload) -> None:
        self.inner = inner
        self.offload = offload

    def get(self, task_id: str) -> dict[str, Any] | None:
        meta = self.inner.get(task_id)
        return None if meta is None else self.offload.resolve(task_id, meta)

    def get_many(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        return self.offload.resolve_many(task_ids, self.inner.get_many(task_ids))

    def put(self, task_id: str, meta: dict[str, Any], ttl: float | None) -> int:
        pointer, payload = self.offload.pointer_for(task_id, meta, ttl)
        if payload is not None and isinstance(self.inner, KVRecords):  # encoded once
            return self.inner.put_payload(task_id, payload, ttl)
        return self.inner.put(task_id, meta if pointer is None else pointer, ttl)

    def delete(self, task_id: str) -> None:
        """Forget: the object (found through the stored pointer), then the pointer."""
        self.offload.delete(self.inner.get(task_id))
        self.inner.delete(task_id)

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        return self.inner.get_group(group_id)

    def put_group(self, group_id: str, meta: dict[str, Any], ttl: float | None) -> None:
        self.inner.put_group(group_id, meta, ttl)

    def delete_group(self, group_id: str) -> None:
        self.inner.delete_group(group_id)
