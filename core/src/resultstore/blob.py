"""A shared base for object stores (S3, Google Cloud Storage, Azure Blob).

:class:`BlobStore` is a complete :class:`~resultstore.spec.KeyValueStore`
(batched reads over a bounded thread pool, expiry, ``scan``, ``cleanup``,
guarded writes and exactly-once chords) built on a small object API that each
plugin implements for its SDK::

    class MyStore(BlobStore):
        settings_prefix = "my"

        def read_blob(self, name, need_version=False): ...   # -> Blob | None
        def write_blob(self, name, data, *, expires=None,
                       if_absent=False, if_version=None): ...  # -> version, or PreconditionFailed
        def delete_blob(self, name): ...                    # absent is fine
        def list_blobs(self, prefix): ...                   # -> Iterator[BlobInfo]
        def sdk_error_is_transient(self, exc): ...          # throttling, 5xx, connection errors

Object names are ``self.prefix + key`` (the plugin builds ``prefix`` from its
base path exactly as Celery's backend of the same storage does), so results
cross-read with Celery.

**Expiry.**  A write with a TTL records its expiry time with the object (user
metadata, or GCS ``customTime``).  Reads treat an object whose recorded expiry has
passed as absent where the read reports it; :meth:`BlobStore.cleanup` (Celery's
``backend_cleanup``) lists the objects and deletes the expired ones.  Objects
without an expiry record (written by Celery's own backend, which never expires
them) expire ``result_expires`` after their last modification.

**Chords** need conditional writes (create-if-absent, replace-if-version).  Each
header part is its own object ``<G>.p.<index>.<task_id>``, created if absent (a
redelivered part is not counted twice).  After writing its part a worker lists
``<G>.`` and, when it sees as many parts as the chord size ``<G>.s.<size>`` (plus
``add_to_chord`` growth ``<G>.t``), creates the completion marker ``<G>.c`` if
absent: exactly one worker succeeds, so the body runs exactly once.  The writer of
the last part always sees every part (each listing starts after its own write), and
a worker that died between its write and the marker is covered by redelivery.  The
size is in the name of ``<G>.s.<size>``, so a part costs two round trips (write,
list) and the completing one a third (the marker).
Storage that does not honour the conditions (some emulators) is detected at
start by a probe; the store then declares no chord capability and hosts poll.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from .config import Settings
from .errors import BackendError, ImproperlyConfigured, ResultStoreError
from .keys import CHORD_PREFIX, GROUP_PREFIX, TASK_PREFIX
from .spec import Capability, ChordProgress, KeyValueStore

__all__ = ["Blob", "BlobInfo", "BlobStore", "PerProcess", "PreconditionFailed", "generic_transient",
           "expiry_from_metadata",
           "bucket_url_options"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Capabilities every blob store has; CHORD and GUARDED_SET need conditional writes.
_BASE_CAPABILITIES = frozenset({Capability.BATCH, Capability.SCAN, Capability.CLEANUP})
_CONDITIONAL_CAPABILITIES = frozenset({Capability.CHORD, Capability.GUARDED_SET})

#: Recent ``add_to_chord`` operations remembered in ``<G>.t`` (makes a retried write idempotent).
_GROW_TOKENS = 64
_CAS_ATTEMPTS = 200


class PreconditionFailed(ResultStoreError):
    """A conditional write found the object present (if-absent) or changed (if-version).

    Raised by a plugin's :meth:`BlobStore.write_blob`; the base class handles it.
    """


@dataclass(frozen=True)
class Blob:
    """One object's content as read."""

    data: bytes
    #: ETag / generation for an if-version write; ``None`` when the read did not report it.
    version: str | None = None
    #: Recorded expiry (epoch seconds); ``None`` when none is recorded or the read cannot tell.
    expires: float | None = None


@dataclass(frozen=True)
class BlobInfo:
    """One object as listed."""

    name: str
    #: Last modification, epoch seconds.
    modified: float
    #: Recorded expiry (epoch seconds), ``None`` for none.
    expires: float | None = None
    #: False when the listing carries no metadata (S3): :meth:`BlobStore.head_blob` tells.
    expiry_known: bool = True


def expiry_from_metadata(metadata: Mapping[str, str] | None, key: str) -> float | None:
    """The expiry recorded under ``key`` in object metadata (epoch seconds); ``None`` if absent/bad."""
    raw = (metadata or {}).get(key)
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


class PerProcess(Generic[T]):
    """A lazily built value (an SDK client, a thread pool) rebuilt after ``fork``."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pid = 0
        self._value: T | None = None

    def get(self) -> T:
        with self._lock:
            if self._value is None or self._pid != os.getpid():
                self._value = self._factory()
                self._pid = os.getpid()
            return self._value

    def peek(self) -> T | None:
        """The value built in this process, if any (for closing it)."""
        return self._value if self._pid == os.getpid() else None

    def reset(self) -> None:
        with self._lock:
            self._value = None


def generic_transient(exc: BaseException) -> bool:
    """Connection and timeout errors from the standard library (any SDK may surface them)."""
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _setting(settings: Settings, name: str, default: Any = None) -> Any:
    value = settings.get(name)
    return default if value is None else value


def bucket_url_options(url: str, namespace: str) -> dict[str, str]:
    """Settings given by a ``scheme://bucket/base/path?<namespace>_option=value`` URL.

    As Celery's ``gs://`` form: the host is ``<namespace>_bucket``, the path (without
    its leading ``/``) ``<namespace>_base_path``, and query parameters name settings;
    parts that are absent are left out, so configured settings apply.

    >>> bucket_url_options("gs://results/celery?gcs_project=p1", "gcs")
    {'gcs_bucket': 'results', 'gcs_base_path': 'celery', 'gcs_project': 'p1'}
    """
    scheme, sep, rest = url.partition("://")
    parts = urlsplit("http://" + rest) if sep else urlsplit("http://")
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            f"{scheme}:// URLs carry no credentials; set {namespace}_* settings instead.")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    options = {f"{namespace}_bucket": unquote(parts.hostname or ""),
               f"{namespace}_base_path": unquote(path)}
    for key, value in parse_qsl(parts.query):
        if not key.startswith(f"{namespace}_"):
            raise ImproperlyConfigured(
                f"Unknown {scheme}:// URL option {key!r}: options are {namespace}_* setting names.")
        options[key] = value
    return {key: value for key, value in options.items() if value}


#: Results of the conditional-write probe, per storage location.
_PROBES: dict[Hashable, bool] = {}
_PROBES_LOCK = threading.Lock()


class BlobStore(KeyValueStore):
    """A key/value store over objects; plugins implement the object API only."""

    #: Celery's setting namespace of the storage (``s3``, ``gcs``, ``azureblockblob``).
    settings_prefix: ClassVar[str] = "blob"
    #: Default size of the thread pool of batched operations.
    default_max_workers: ClassVar[int] = 10
    #: Capabilities the plugin implements beyond the object API (a native asyncio twin, push).
    extra_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: True when the storage's API guarantees conditional writes (CouchDB's MVCC): no probe.
    assume_conditions: ClassVar[bool] = False

    def __init__(self, prefix: str, settings: Settings, *, max_workers: int | None = None) -> None:
        #: Prepended to every key to form the object name (the base path).
        self.prefix = prefix
        self.settings = settings
        self.max_workers = int(max_workers or self.default_max_workers)
        if self.max_workers < 1:
            raise ImproperlyConfigured(f"{self.settings_prefix}_threadpool_maxsize must be >= 1")
        self.keyprefix = settings.global_keyprefix
        ttls = [settings.expires, settings.failure_expires, settings.chord_expires]
        #: Objects without an expiry record are old after this (Celery-written ones).
        self.default_ttl = settings.expires
        #: Nothing we wrote can expire sooner than this after its modification.
        self.min_ttl = min((t for t in ttls if t), default=None)
        self._pool: PerProcess[ThreadPoolExecutor] = PerProcess(
            lambda: ThreadPoolExecutor(self.max_workers, thread_name_prefix=f"{self.settings_prefix}-io"))
        self.capabilities = _BASE_CAPABILITIES | self.extra_capabilities  # type: ignore[misc]
        self._listed = threading.local()

    @classmethod
    def declared_capabilities(cls) -> tuple[frozenset[Capability], frozenset[Capability]]:
        """``(always, if conditional writes are honoured)``: what instances of the class declare."""
        always = _BASE_CAPABILITIES | cls.extra_capabilities
        if cls.assume_conditions:
            return always | _CONDITIONAL_CAPABILITIES, frozenset()
        return always, _CONDITIONAL_CAPABILITIES

    # -- the object API (plugins) ----------------------------------------------
    @abc.abstractmethod
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        """The object's data (and version when ``need_version``), ``None`` when absent."""

    @abc.abstractmethod
    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        """Write the object; return its new version when the storage reports it.

        ``expires`` (epoch seconds) is recorded with the object.  ``if_absent``: only
        create; ``if_version``: only replace that version.  A condition that does not
        hold raises :class:`PreconditionFailed`.
        """

    @abc.abstractmethod
    def delete_blob(self, name: str) -> None:
        """Delete the object; an absent object is not an error."""

    @abc.abstractmethod
    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        """Every object whose name starts with ``prefix``."""

    @abc.abstractmethod
    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        """True for the SDK's transient errors (throttling, 5xx, connection/timeouts)."""

    def list_names(self, prefix: str) -> Iterator[str]:
        """Names only (override when the SDK lists names more cheaply; chords use it)."""
        return (info.name for info in self.list_blobs(prefix))

    def read_blobs(self, names: Sequence[str]) -> list[Blob | None]:
        """Several objects in order (concurrently; override with a batch call)."""
        return list(self._map(self.read_blob, names))

    def head_blob(self, name: str) -> BlobInfo | None:
        """The object's listing info with a known expiry (override with a metadata call)."""
        blob = self.read_blob(name)
        return None if blob is None else BlobInfo(name, time.time(), blob.expires)

    def delete_blobs(self, names: Sequence[str]) -> None:
        """Delete several objects (concurrently; override with a batch call)."""
        list(self._map(self.delete_blob, names))

    def probe_key(self) -> Hashable:
        """Identifies the storage location for caching the probe result."""
        return (type(self), self.prefix)

    # -- setup helpers -----------------------------------------------------------
    def configure_conditions(self) -> None:
        """Declare chords and guarded writes iff conditional writes are honoured.

        ``<prefix>_conditional_writes``: ``True``/``False`` to skip the probe.
        """
        configured = self.settings.get(f"{self.settings_prefix}_conditional_writes")
        if configured is not None:
            honoured = bool(configured)
        else:
            honoured = self.assume_conditions or self.conditions_honoured()
        base = _BASE_CAPABILITIES | self.extra_capabilities
        self.capabilities = base | _CONDITIONAL_CAPABILITIES if honoured else base  # type: ignore[misc]

    def conditions_honoured(self) -> bool:
        """Probe once per location: does the storage refuse a stale conditional write?"""
        key = self.probe_key()
        with _PROBES_LOCK:
            if key in _PROBES:
                return _PROBES[key]
        try:
            honoured = self._probe()
        except Exception as exc:
            raise BackendError(
                f"{self.as_uri()}: cannot probe conditional writes ({type(exc).__name__}: {exc}); "
                f"check the storage, or set {self.settings_prefix}_conditional_writes=True/False."
            ) from exc
        if not honoured:
            logger.warning("%s does not honour conditional writes: no native chords (hosts poll) "
                           "and no atomic keep-SUCCESS writes.", self.as_uri())
        with _PROBES_LOCK:
            _PROBES[key] = honoured
        return honoured

    def _probe(self) -> bool:
        name = f"{self.prefix}{self.keyprefix}resultstore-probe-{uuid.uuid4().hex}"
        try:
            self.write_blob(name, b"1", expires=time.time() + 3600)
            try:
                self.write_blob(name, b"2", if_absent=True)
                return False
            except PreconditionFailed:
                pass
            current = self.read_blob(name, need_version=True)
            if current is None or current.version is None:
                return False
            self.write_blob(name, b"3", if_version=current.version)
            try:
                self.write_blob(name, b"4", if_version=current.version)
                return False
            except PreconditionFailed:
                return True
        finally:
            self.delete_blob(name)

    # -- plumbing ------------------------------------------------------------------
    def name(self, key: str) -> str:
        return self.prefix + key

    def _map(self, func: Callable[[str], T], items: Sequence[str]) -> Iterator[T]:
        if len(items) <= 1:
            return iter([func(item) for item in items])
        return self._pool.get().map(func, items)

    @staticmethod
    def _deadline(ttl: float | None) -> float | None:
        return time.time() + ttl if ttl else None

    @staticmethod
    def _live(blob: Blob | None) -> bytes | None:
        if blob is None or (blob.expires is not None and blob.expires <= time.time()):
            return None
        return blob.data

    # -- KeyValueStore -------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        return self._live(self.read_blob(self.name(key)))

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._live(blob) for blob in self.read_blobs([self.name(key) for key in keys])]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.write_blob(self.name(key), bytes(value), expires=self._deadline(ttl))

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        pairs = dict(items)
        list(self._map(lambda key: self.set(key, pairs[key], ttl), list(pairs)))

    def delete(self, key: str) -> None:
        self.delete_blob(self.name(key))

    def delete_many(self, keys: Sequence[str]) -> None:
        self.delete_blobs([self.name(key) for key in keys])

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        """Create, or replace the exact version read unless it starts with ``prefix``."""
        name, value, expires = self.name(key), bytes(value), self._deadline(ttl)
        for _ in range(_CAS_ATTEMPTS):
            try:
                self.write_blob(name, value, expires=expires, if_absent=True)
                return True
            except PreconditionFailed:
                pass
            current = self.read_blob(name, need_version=True)
            if current is None:
                continue  # deleted meanwhile: create again
            if current.data == value:
                return True  # our own write, retried by the SDK after a lost response
            if self._live(current) is not None and current.data.startswith(prefix):
                return False
            try:
                self.write_blob(name, value, expires=expires, if_version=current.version)
                return True
            except PreconditionFailed:
                continue
        raise BackendError(f"{key}: too much write contention ({_CAS_ATTEMPTS} attempts)")

    def scan(self, prefix: str) -> Iterator[str]:
        now = time.time()
        for info in self.list_blobs(self.name(prefix)):
            if info.expiry_known and info.expires is not None and info.expires <= now:
                continue
            yield info.name[len(self.prefix):]

    def cleanup(self) -> int:
        """Delete every expired result object under the base path; return how many."""
        now = time.time()
        ours = tuple(self.prefix + self.keyprefix + p for p in (TASK_PREFIX, GROUP_PREFIX, CHORD_PREFIX))
        expired: list[str] = []
        unknown: list[BlobInfo] = []
        for info in self.list_blobs(self.prefix + self.keyprefix):
            if not info.name.startswith(ours):
                continue
            if info.expiry_known:
                if self._expired(info, now):
                    expired.append(info.name)
            elif self.min_ttl is not None and info.modified + self.min_ttl <= now:
                unknown.append(info)  # may have expired: ask for its metadata
        for head in self._map(self.head_blob, [i.name for i in unknown]):
            if head is not None and self._expired(head, now):
                expired.append(head.name)
        if expired:
            self.delete_blobs(expired)
        return len(expired)

    def _expired(self, info: BlobInfo, now: float) -> bool:
        if info.expires is not None:
            return info.expires <= now
        return self.default_ttl is not None and info.modified + self.default_ttl <= now

    # -- chords ----------------------------------------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        base = self.name(group_key)
        stale = [name for name in self.list_names(base + ".")
                 if name == base + ".c" or name.startswith(base + ".s.")]
        if stale:  # a chord re-applied with the same group id starts over, as Redis's DEL G.c
            self.delete_blobs(stale)
        self.write_blob(f"{base}.s.{int(size)}", b"", expires=self._deadline(ttl))

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        base = self.name(group_key)
        part = f"{base}.p.{'inf' if index is None else int(index)}.{member}"
        expires = self._deadline(ttl)
        try:
            self.write_blob(part, bytes(value), expires=expires, if_absent=True)
        except PreconditionFailed:
            pass  # a redelivered part: counted once, and it may still complete the chord
        names = list(self.list_names(base + "."))
        count = sum(name.startswith(base + ".p.") for name in names)
        if base + ".c" in names:
            return ChordProgress(count, None, False)  # late duplicate of a completed chord
        sizes = [int(name[len(base) + 3:]) for name in names
                 if name.startswith(base + ".s.") and name[len(base) + 3:].isdigit()]
        if not sizes:
            return ChordProgress(count, None, False)  # the size is recorded before the last part
        size = max(sizes)
        if base + ".t" in names:
            grown = self.read_blob(base + ".t")
            size += 0 if grown is None else int(json.loads(grown.data)["n"])
        if count != size:
            return ChordProgress(count, size, False)
        token = uuid.uuid4().hex.encode()
        try:
            self.write_blob(base + ".c", token, expires=expires, if_absent=True)
            won = True
        except PreconditionFailed:
            marker = self.read_blob(base + ".c")  # our own write, retried after a lost response?
            won = marker is not None and marker.data == token
        if won:  # chord_parts and chord_clear follow on this thread: spare them a listing
            self._listed.value = (base, names)
        return ChordProgress(count, size, won)

    def _listing(self, base: str) -> list[str] | None:
        """The names listed when this thread completed the chord of ``base``, if it did."""
        cached: tuple[str, list[str]] | None = getattr(self._listed, "value", None)
        return cached[1] if cached is not None and cached[0] == base else None

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        name = self.name(group_key) + ".t"
        token = uuid.uuid4().hex
        expires = self._deadline(ttl)
        for _ in range(_CAS_ATTEMPTS):
            current = self.read_blob(name, need_version=True)
            state: dict[str, Any] = {"n": 0, "ops": []}
            if current is not None:
                state = json.loads(current.data)
                if token in state["ops"]:
                    return  # applied by an earlier attempt whose response was lost
            state = {"n": int(state["n"]) + by, "ops": [*state["ops"], token][-_GROW_TOKENS:]}
            data = json.dumps(state).encode()
            try:
                if current is None:
                    self.write_blob(name, data, expires=expires, if_absent=True)
                else:
                    self.write_blob(name, data, expires=expires, if_version=current.version)
                return
            except PreconditionFailed:
                time.sleep(0.001)
        raise BackendError(f"{group_key}: too much contention growing the chord")

    def chord_parts(self, group_key: str) -> list[bytes]:
        base = self.name(group_key) + ".p."

        def order(name: str) -> tuple[float, str]:
            index = name[len(base):].partition(".")[0]
            return (float("inf") if index == "inf" else float(index), name)

        listed = self._listing(self.name(group_key))
        found = self.list_names(base) if listed is None else (n for n in listed if n.startswith(base))
        names = sorted(found, key=order)
        return [blob.data for blob in self.read_blobs(names) if blob is not None]

    def chord_clear(self, group_key: str) -> None:
        base = self.name(group_key)
        listed = self._listing(base)
        self._listed.value = None
        found = self.list_names(base + ".") if listed is None else listed
        self.delete_blobs([name for name in found if name != base + ".c"])

    # -- errors, naming, lifecycle -------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Throttling, server errors, connection errors and timeouts (anywhere in the chain)."""
        return any(generic_transient(e) or self.sdk_error_is_transient(e) for e in _chain(exc))

    def close(self) -> None:
        pool = self._pool.peek()
        if pool is not None:
            pool.shutdown(wait=True)
        self._pool.reset()

    @staticmethod
    def setting(settings: Settings, name: str, default: Any = None) -> Any:
        """``settings[name]`` or ``default`` when unset or ``None``."""
        return _setting(settings, name, default)

