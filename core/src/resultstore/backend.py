"""``ResultBackend``: every result semantic, once, over any store.

>>> from resultstore import connect
>>> backend = connect("memory://")
>>> backend.mark_as_done("t1", 42)
42
>>> backend.get_task_meta("t1")["result"]
42
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone, tzinfo
from types import EllipsisType
from typing import Any

from . import states
from .cache import ResultCache
from .chords import ChordAccounting, ChordPart, chord_accounting
from .codec import Codec, build_meta, pending_meta
from .config import Settings
from .errors import BackendGetMetaError, BackendStoreError, NotSupported
from .hooks import has_listeners, observing, plugin_manager
from .keys import RECORDS, Keyspace
from .offload import Offload, OffloadRecords, is_pointer
from .records import KVRecords, MetaRecords, Records
from .retry import RetryPolicy
from .spec import (
    AsyncKeyValueStore,
    AsyncMetaStore,
    Capability,
    KeyValueStore,
    MetaStore,
    ThreadedAsyncStore,
)
from .transforms import TransformChain

__all__ = ["ResultBackend"]


#: Chord bookkeeping keys sharing the group prefix (``<gid>.j``, ``.t``, ``.s``, ``.n``, ``.j.N``...).
_CHORD_SUFFIX = re.compile(r"\.(?:[jtsndc]|j\.\d+)$")


def _tz(name: str | None) -> tzinfo:
    if not name:
        return timezone.utc
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


class ResultBackend:
    """States, encoding, retries, cache, groups and chords over one store.

    Build one with :func:`resultstore.connect` (from a URL) or directly from a
    store instance and :class:`~resultstore.config.Settings`.
    """

    def __init__(self, store: KeyValueStore | MetaStore, settings: Settings | None = None,
                 *, url: str | None = None) -> None:
        self.store = store
        self.settings = settings = settings or Settings()
        self.url = url
        self.hooks = plugin_manager()
        available = {t.name: t for impls in self.hooks.hook.resultstore_transforms() for t in impls}
        transforms = TransformChain(settings["resultstore_transforms"] or (), available,
                                    settings["resultstore_signing_key"],
                                    settings["resultstore_encryption_keys"])
        self.codec = Codec(settings.serializer, settings.accept, settings["result_compression"],
                           transforms, settings.max_payload_size)
        self.keys = Keyspace(settings.global_keyprefix)
        self.cache = ResultCache(int(settings["result_cache_max"]))
        self.retry = RetryPolicy.from_settings(settings, getattr(store, "certificate_settings", None))
        self.expires = settings.expires
        self.failure_expires = settings.failure_expires
        self.chord_expires = settings.chord_expires
        self.extended = bool(settings["result_extended"])
        self.tz = _tz(settings["timezone"])
        self.records: Records = (
            KVRecords(store, self.codec, self.keys) if isinstance(store, KeyValueStore)
            else MetaRecords(store, self.codec)
        )
        self.offload: Offload | None = None
        if settings["resultstore_offload_url"]:
            self.offload = Offload(str(settings["resultstore_offload_url"]),
                                   int(settings["resultstore_offload_threshold"]), settings,
                                   self.codec, self.keys)
            self.records = OffloadRecords(self.records, self.offload)
        self.chords: ChordAccounting | None = chord_accounting(
            store, self.codec, self.keys, self.chord_expires)
        self._emit_stored = has_listeners(self.hooks, "resultstore_stored")
        self._emit_fetched = has_listeners(self.hooks, "resultstore_fetched")
        self._observe = has_listeners(self.hooks, "resultstore_operation")
        self._emit_chord = has_listeners(self.hooks, "resultstore_chord_completed")
        self._astore: AsyncKeyValueStore | None = None
        self._ameta: AsyncMetaStore | None = None

    # -- plumbing ---------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(getattr(self.store, "capabilities", frozenset()))

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def _on_retry(self, operation: str, attempt: int, delay: float, exc: BaseException) -> None:
        self.hooks.hook.resultstore_retried(operation=operation, attempt=attempt, delay=delay,
                                            exc=exc, backend=self)

    def _write(self, operation: str, func: Callable[..., Any], *args: Any,
               task_id: str | None = None, state: str | None = None) -> Any:
        if self._observe:
            with observing(self.hooks, self, operation, task_id):
                return self._write_now(operation, func, *args, task_id=task_id, state=state)
        return self._write_now(operation, func, *args, task_id=task_id, state=state)

    def _write_now(self, operation: str, func: Callable[..., Any], *args: Any,
                   task_id: str | None = None, state: str | None = None) -> Any:
        try:
            return self.retry.call(operation, func, *args, safe=self.store.exception_safe_to_retry,
                                   error=BackendStoreError, on_retry=self._on_retry,
                                   task_id=task_id, state=state)
        except Exception as exc:
            self.hooks.hook.resultstore_failed(operation=operation, exc=exc, backend=self)
            raise

    def _read(self, operation: str, func: Callable[..., Any], *args: Any,
              task_id: str | None = None, max_retries: float | None = None) -> Any:
        if self._observe:
            with observing(self.hooks, self, operation, task_id):
                return self._read_now(operation, func, *args, task_id=task_id,
                                      max_retries=max_retries)
        return self._read_now(operation, func, *args, task_id=task_id, max_retries=max_retries)

    def _read_now(self, operation: str, func: Callable[..., Any], *args: Any,
                  task_id: str | None = None, max_retries: float | None = None) -> Any:
        try:
            return self.retry.call(operation, func, *args, safe=self.store.exception_safe_to_retry,
                                   error=BackendGetMetaError, on_retry=self._on_retry,
                                   task_id=task_id, max_retries=max_retries)
        except Exception as exc:
            self.hooks.hook.resultstore_failed(operation=operation, exc=exc, backend=self)
            raise

    def encode(self, data: Any) -> bytes:
        return self.codec.encode(data)

    def decode(self, payload: bytes | str) -> Any:
        return self.codec.decode(payload)

    def expires_for(self, state: str) -> float | None:
        return self.failure_expires if state == states.FAILURE else self.expires

    # -- writing ----------------------------------------------------------
    def store_result(self, task_id: str, result: Any, state: str, traceback: str | None = None,
                     request: Any = None, *, children: list[Any] | EllipsisType | None = ...
                     ) -> Any:
        """Encode and write the meta of ``task_id``; a stored SUCCESS is never overwritten.

        ``children`` (child result tuples) overrides those of ``request``.
        """
        meta = build_meta(str(task_id), self.codec.encode_result(result, state), state, traceback,
                          request, extended=self.extended, now=self.now, children=children)
        nbytes = self._write("store_result", self.records.put, str(task_id), meta,
                             self.expires_for(state), task_id=str(task_id), state=state)
        if self._emit_stored and nbytes:
            self.hooks.hook.resultstore_stored(task_id=str(task_id), state=state, nbytes=nbytes,
                                               backend=self)
        return result

    def mark_as_started(self, task_id: str, **meta: Any) -> Any:
        return self.store_result(task_id, meta, states.STARTED)

    def mark_as_done(self, task_id: str, result: Any, request: Any = None) -> Any:
        return self.store_result(task_id, result, states.SUCCESS, request=request)

    def mark_as_failure(self, task_id: str, exc: BaseException, traceback: str | None = None,
                        request: Any = None) -> BaseException:
        return self.store_result(task_id, exc, states.FAILURE, traceback, request)  # type: ignore[no-any-return]

    def mark_as_retry(self, task_id: str, exc: BaseException, traceback: str | None = None,
                      request: Any = None) -> BaseException:
        return self.store_result(task_id, exc, states.RETRY, traceback, request)  # type: ignore[no-any-return]

    def mark_as_revoked(self, task_id: str, reason: str = "", request: Any = None) -> Any:
        from .codec.exceptions import loaded_or_standin

        exc = loaded_or_standin("TaskRevokedError", "celery.exceptions")(reason)
        return self.store_result(task_id, exc, states.REVOKED, None, request)

    def forget(self, task_id: str) -> None:
        """Delete the stored meta and drop it from the cache."""
        self.cache.discard(str(task_id))
        self._write("forget", self.records.delete, str(task_id), task_id=str(task_id))

    # -- reading ----------------------------------------------------------
    def get_task_meta(self, task_id: str, cache: bool = True,
                      max_retries: float | None = None) -> dict[str, Any]:
        """The decoded meta (exceptions rebuilt); PENDING when unknown.  Cached if SUCCESS."""
        task_id = str(task_id)
        if cache and (meta := self.cache.get(task_id)) is not None:
            if self._emit_fetched:
                self.hooks.hook.resultstore_fetched(task_id=task_id, state=meta["status"],
                                                    cached=True, backend=self)
            return meta
        meta = self._read("get_task_meta", self.records.get, task_id, task_id=task_id,
                          max_retries=max_retries) or pending_meta()
        return self._fetched(task_id, meta, cache)

    def _fetched(self, task_id: str, meta: dict[str, Any], cache: bool) -> dict[str, Any]:
        if self.offload is not None:  # asyncio reads and pushed metas (records resolve the rest)
            meta = self.offload.resolve(task_id, meta)
        if cache and meta["status"] == states.SUCCESS and self.cache.enabled:
            self.cache.put(task_id, meta)
        if self._emit_fetched:
            self.hooks.hook.resultstore_fetched(task_id=task_id, state=meta["status"], cached=False,
                                                backend=self)
        return meta

    def get_many(self, task_ids: Iterable[str], cache: bool = True) -> dict[str, dict[str, Any]]:
        """Metas of many tasks, cached ones from the cache and the rest in one batched read."""
        ids = [str(t) for t in task_ids]
        found: dict[str, dict[str, Any]] = {}
        if cache and self.cache.enabled:
            for task_id in ids:
                if (meta := self.cache.get(task_id)) is not None:
                    found[task_id] = meta
        missing = list(dict.fromkeys(t for t in ids if t not in found))
        if missing:
            metas = self._read("get_many", self.records.get_many, missing)
            for task_id, meta in zip(missing, metas, strict=True):
                found[task_id] = self._fetched(task_id, meta or pending_meta(), cache)
        return {task_id: found[task_id] for task_id in ids}

    def get_state(self, task_id: str) -> str:
        return str(self.get_task_meta(task_id)["status"])

    def get_result(self, task_id: str) -> Any:
        return self.get_task_meta(task_id).get("result")

    def get_traceback(self, task_id: str) -> str | None:
        return self.get_task_meta(task_id).get("traceback")

    def get_children(self, task_id: str) -> list[Any] | None:
        return self.get_task_meta(task_id).get("children")

    def task_result_exists(self, task_id: str) -> bool:
        return self._read("get_task_meta", self.records.get, str(task_id)) is not None

    def is_cached(self, task_id: str) -> bool:
        return str(task_id) in self.cache

    # -- groups -----------------------------------------------------------
    def save_group(self, group_id: str, result: Any) -> Any:
        """Save a group as ``{'result': result.as_tuple()}`` (result: object or tuple)."""
        from .codec import as_tuple

        self._write("save_group", self.records.put_group, str(group_id),
                    {"result": as_tuple(result)}, self.expires)
        return result

    def get_group_meta(self, group_id: str) -> dict[str, Any] | None:
        """The saved group meta ``{'result': tuple}`` or ``None``."""
        return self._read("restore_group", self.records.get_group, str(group_id))  # type: ignore[no-any-return]

    def delete_group(self, group_id: str) -> None:
        self._write("delete_group", self.records.delete_group, str(group_id))

    # -- chords -----------------------------------------------------------
    @property
    def supports_native_chords(self) -> bool:
        """True when part counting is atomic here (else hosts poll)."""
        return self.chords is not None

    def _chords(self) -> ChordAccounting:
        if self.chords is None:
            raise NotSupported(
                f"{type(self.store).__name__} cannot count chord parts (no chord_add or incr); "
                f"poll the header instead (Celery does this with celery.chord_unlock)."
            )
        return self.chords

    def set_chord_size(self, group_id: str, size: int) -> None:
        self._write("set_chord_size", self._chords().set_size, str(group_id), int(size))

    def chord_part_return(self, group_id: str, task_id: str, index: int | None, state: str,
                          result: Any) -> list[ChordPart] | None:
        """Record one header part; return all parts iff this call completed the chord."""
        if self.offload is not None:  # a big part goes to the offload store, a pointer stays
            result = self._write("chord_part_return", self.offload.part_result, str(group_id),
                                 str(task_id), state, result, self.chord_expires or self.expires)
        parts: list[ChordPart] | None = self._write(
            "chord_part_return", self._chords().add, str(group_id), str(task_id), index, state,
            result, task_id=str(task_id), state=state)
        if parts is not None and self.offload is not None:
            parts = self.offload.resolve_parts(str(group_id), parts)
        if parts is not None and self._emit_chord:
            self.hooks.hook.resultstore_chord_completed(backend=self, group_id=str(group_id),
                                                        size=len(parts))
        return parts

    def add_to_chord(self, group_id: str, by: int = 1) -> None:
        self._write("add_to_chord", self._chords().grow, str(group_id), by)

    def chord_done(self, group_id: str) -> None:
        """Drop the chord bookkeeping after the body was dispatched."""
        self._write("chord_done", self._chords().clear, str(group_id))

    # -- maintenance ------------------------------------------------------
    def cleanup(self) -> int:
        """Delete expired results where the store does not expire them itself."""
        removed = 0
        if self.offload is not None:  # objects of expired pointers (stores without native TTL)
            removed += self._write("cleanup", self.offload.cleanup)
        if Capability.CLEANUP in self.capabilities:
            removed += self._write("cleanup", self.store.cleanup)
        return removed

    def task_ids(self) -> Iterable[str]:
        """Ids of stored task results (needs the SCAN capability)."""
        return self._ids("task", self.keys.task_prefix)

    def group_ids(self) -> Iterable[str]:
        """Ids of saved groups (needs the SCAN capability; chord bookkeeping keys left out)."""
        return self._ids("group", self.keys.group_prefix)

    def _ids(self, kind: str, prefix: str) -> Iterable[str]:
        if not self.has(Capability.SCAN):
            raise NotSupported(f"{type(self.store).__name__} cannot list its results.")
        if isinstance(self.store, MetaStore):
            return self.store.scan_ids(kind)
        keys = (key[len(prefix):] for key in self.store.scan(prefix))
        return keys if kind == "task" else (k for k in keys if not _CHORD_SUFFIX.search(k))

    def as_uri(self, include_password: bool = False) -> str:
        return self.store.as_uri(include_password)

    def close(self) -> None:
        waiter = self.__dict__.get("_waiter")  # resultstore.waiting: stop its push channel first
        if waiter is not None:
            waiter.close()
        self.store.close()

    def __repr__(self) -> str:
        return f"<ResultBackend {self.as_uri()}>"

    # -- asyncio ----------------------------------------------------------
    @property
    def astore(self) -> AsyncKeyValueStore:
        """Native asyncio twin of the store, or the thread-offload fallback."""
        if self._astore is None:
            if not isinstance(self.store, KeyValueStore):
                raise NotSupported("asyncio access needs a key/value store")
            self._astore = (self.store.aio() if self.has(Capability.AIO)
                            else ThreadedAsyncStore(self.store))
        return self._astore

    @property
    def ameta(self) -> AsyncMetaStore | None:
        """Native asyncio twin of a record store (AIO), ``None`` otherwise."""
        if self._ameta is None and isinstance(self.store, MetaStore) and self.has(Capability.AIO):
            self._ameta = self.store.aio()
        return self._ameta

    async def _aread(self, operation: str, func: Callable[..., Any], *args: Any,
                     task_id: str | None = None) -> Any:
        """The asyncio twin of ``_read`` (observed by ``resultstore_operation`` hooks)."""
        if self._observe:
            with observing(self.hooks, self, operation, task_id):
                return await self.retry.acall(operation, func, *args,
                                              safe=self.store.exception_safe_to_retry,
                                              error=BackendGetMetaError, on_retry=self._on_retry,
                                              task_id=task_id)
        return await self.retry.acall(operation, func, *args,
                                      safe=self.store.exception_safe_to_retry,
                                      error=BackendGetMetaError, on_retry=self._on_retry,
                                      task_id=task_id)

    async def _aread_metas(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        """Record stores: native asyncio reads (AIO) or the sync read on a worker thread."""
        ameta = self.ameta
        if ameta is None:
            return await asyncio.to_thread(self._read, "get_many", self.records.get_many, task_ids)
        found = await self._aread("get_many", ameta.get_many_meta, task_ids)
        return await self._aresolve(task_ids, [
            None if (m := found.get(t)) is None else self.codec.meta_from_decoded(dict(m))
            for t in task_ids])

    async def _aresolve(self, task_ids: Sequence[str], metas: list[dict[str, Any] | None]
                        ) -> list[dict[str, Any] | None]:
        """Offloaded results among ``metas``: one batched fetch, on a worker thread."""
        if self.offload is None or not any(m is not None and is_pointer(m.get("result")) for m in metas):
            return metas
        return await asyncio.to_thread(self.offload.resolve_many, task_ids, metas)

    async def aget_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        """The asyncio twin of :meth:`get_task_meta`."""
        task_id = str(task_id)
        if cache and (meta := self.cache.get(task_id)) is not None:
            return meta
        if not isinstance(self.store, KeyValueStore):
            stored = (await self._aread_metas([task_id]))[0]
            return self._fetched(task_id, stored or pending_meta(), cache)
        payload = await self._aread("get_task_meta", self.astore.get, self.keys.task(task_id),
                                    task_id=task_id)
        meta = None if payload is None else self.codec.decode_meta(payload, RECORDS.task(task_id))
        return self._fetched(task_id, (await self._aresolve([task_id], [meta]))[0] or pending_meta(),
                             cache)

    async def aget_many(self, task_ids: Sequence[str], cache: bool = True) -> dict[str, dict[str, Any]]:
        """The asyncio twin of :meth:`get_many` (one batched read)."""
        ids = [str(t) for t in task_ids]
        found = {t: m for t in ids if cache and (m := self.cache.get(t)) is not None}
        missing = list(dict.fromkeys(t for t in ids if t not in found))
        if missing and not isinstance(self.store, KeyValueStore):
            metas = await self._aread_metas(missing)
            for task_id, stored in zip(missing, metas, strict=True):
                found[task_id] = self._fetched(task_id, stored or pending_meta(), cache)
        elif missing:
            payloads = await self._aread("get_many", self.astore.mget,
                                         [self.keys.task(t) for t in missing])
            metas = [None if payload is None else self.codec.decode_meta(payload, RECORDS.task(task_id))
                     for task_id, payload in zip(missing, payloads, strict=True)]
            metas = await self._aresolve(missing, metas)
            for task_id, meta in zip(missing, metas, strict=True):
                found[task_id] = self._fetched(task_id, meta or pending_meta(), cache)
        return {t: found[t] for t in ids}

    async def aclose(self) -> None:
        if self._astore is not None:
            await self._astore.aclose()
        if self._ameta is not None:
            await self._ameta.aclose()
        self.close()
