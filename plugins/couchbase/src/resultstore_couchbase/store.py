"""``CouchbaseStore``: Celery's Couchbase documents through the ``couchbase`` SDK 4.

Layout as Celery's ``CouchbaseBackend``: one document per key (``celery-task-meta-<id>``,
``celery-taskset-meta-<id>``) in the bucket's default collection, its value the payload
as a JSON string (:mod:`resultstore_couchbase.payload`), with the document's native expiry
(``result_expires``).  Beyond Celery:

* a missing document reads as absent (PENDING), never as an error;
* reads of many keys are one ``get_multi`` (the SDK sends the gets concurrently over its
  key/value connections), writes and deletes of many keys ``upsert_multi``/``remove_multi``;
* a stored SUCCESS is kept by CAS (``GUARDED_SET``): ``insert`` creates if absent
  (``DocumentExistsException`` otherwise), else ``replace`` with the CAS just read
  (``CasMismatchException`` if the document changed meanwhile);
* native exactly-once chords by CAS (:mod:`resultstore_couchbase.chords`);
* asyncio through the SDK's ``acouchbase`` API (:mod:`resultstore_couchbase.aio`).

Couchbase has no key listing on the key/value service (listing needs a N1QL index), so
the store declares no ``scan``/``cleanup``: documents expire natively.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from couchbase import exceptions as cb
from couchbase.options import (
    InsertOptions,
    RemoveMultiOptions,
    ReplaceOptions,
    UpsertMultiOptions,
    UpsertOptions,
)

from resultstore.blob import PerProcess, generic_transient
from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendError, ImproperlyConfigured
from resultstore.spec import Capability, KeyValueStore

from .chords import CouchbaseChords
from .config import CouchbaseConfig
from .payload import TRANSCODER, is_transient

if TYPE_CHECKING:
    from .aio import AsyncCouchbaseStore

__all__ = ["CouchbaseStore", "expiry"]

#: Attempts at a CAS write that keeps meeting newer versions.
CAS_ATTEMPTS = 200


def expiry(ttl: float | None) -> timedelta | None:
    """The SDK's expiry for ``ttl`` seconds: whole seconds, rounded up (0 means never to it)."""
    return timedelta(seconds=max(1, math.ceil(ttl))) if ttl else None


def cluster_options(config: CouchbaseConfig) -> Any:
    """``ClusterOptions`` with the authenticator and timeouts of ``config`` (sync and asyncio),
    and :data:`~resultstore_couchbase.payload.TRANSCODER` as the default transcoder (reads need
    no per-call options)."""
    from couchbase.auth import PasswordAuthenticator
    from couchbase.options import ClusterOptions, ClusterTimeoutOptions

    if not (config.username and config.password):
        raise ImproperlyConfigured(
            "couchbase:// needs a username and a password (the SDK 4 has no anonymous access): "
            "give them in the URL (couchbase://user:password@host/bucket) or in "
            "couchbase_backend_settings.")
    bootstrap = timedelta(seconds=config.connect_timeout)
    timeouts = ClusterTimeoutOptions(kv_timeout=timedelta(seconds=config.timeout),
                                     connect_timeout=bootstrap, bootstrap_timeout=bootstrap)
    return ClusterOptions(PasswordAuthenticator(config.username, config.password),
                          timeout_options=timeouts, transcoder=TRANSCODER)


def connect(config: CouchbaseConfig) -> tuple[Any, Any]:
    """``(cluster, collection)`` for ``config`` (``couchbase.cluster.Cluster`` looked up at call
    time, so tests can put a stand-in there)."""
    from couchbase import cluster as cluster_module

    cluster = cluster_module.Cluster(config.connstr, cluster_options(config))
    try:
        bucket = cluster.bucket(config.bucket)
        collection = bucket.scope(config.scope).collection(config.collection)
    except BaseException:
        cluster.close()
        raise
    return cluster, collection


class CouchbaseStore(ForwardChords, KeyValueStore):
    """Results as Couchbase documents keyed like Celery's."""

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD,
                              Capability.AIO})
    certificate_settings = ("couchbase_backend_settings' connection_string (couchbases://...?"
                            "certpath=<CA bundle>) and the host name in it")

    def __init__(self, config: CouchbaseConfig, settings: Settings | None = None) -> None:
        self.config = config
        self.settings = settings or Settings()
        self._connection: PerProcess[tuple[Any, Any]] = PerProcess(lambda: connect(self.config))
        self.chords = CouchbaseChords(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CouchbaseStore:
        return cls(CouchbaseConfig.from_url(url, settings), settings)

    @property
    def collection(self) -> Any:
        """This process's collection (the cluster connection is opened on first use)."""
        return self._connection.get()[1]

    # -- single documents (also used by the chords) ---------------------------------------
    def read(self, key: str) -> tuple[bytes, int] | None:
        """``(payload, cas)``, ``None`` when the document does not exist."""
        try:
            result = self.collection.get(key)  # the cluster's default transcoder: TRANSCODER
        except cb.DocumentNotFoundException:
            return None
        return result.value, result.cas

    def create(self, key: str, value: Any, ttl: float | None, transcoder: Any = TRANSCODER) -> bool:
        """Insert unless the document exists; False if it does."""
        try:
            self.collection.insert(key, value, InsertOptions(expiry=expiry(ttl), transcoder=transcoder))
        except cb.DocumentExistsException:
            return False
        return True

    def replace(self, key: str, value: Any, ttl: float | None, cas: int,
                transcoder: Any = TRANSCODER) -> bool:
        """Replace the version ``cas``; False if the document changed or went away meanwhile."""
        try:
            self.collection.replace(key, value, ReplaceOptions(cas=cas, expiry=expiry(ttl),
                                                                transcoder=transcoder))
        except (cb.CasMismatchException, cb.DocumentNotFoundException, cb.DocumentExistsException):
            return False  # a CAS conflict answers DocumentExists on some server versions
        return True

    # -- KeyValueStore ----------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        found = self.read(key)
        return None if found is None else found[0]

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        unique = list(dict.fromkeys(keys))
        if len(unique) <= 1:
            return [self.get(key) for key in keys]
        answer = self.collection.get_multi(unique, return_exceptions=True)
        for exc in answer.exceptions.values():
            if not isinstance(exc, cb.DocumentNotFoundException):
                raise exc
        found = {key: result.value for key, result in answer.results.items()}
        return [found.get(key) for key in keys]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.collection.upsert(key, bytes(value), UpsertOptions(expiry=expiry(ttl), transcoder=TRANSCODER))

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        if not items:
            return
        answer = self.collection.upsert_multi(
            {key: bytes(value) for key, value in items.items()},
            UpsertMultiOptions(expiry=expiry(ttl), transcoder=TRANSCODER, return_exceptions=True))
        for exc in answer.exceptions.values():
            raise exc

    def delete(self, key: str) -> None:
        try:
            self.collection.remove(key)
        except cb.DocumentNotFoundException:
            pass

    def delete_many(self, keys: Sequence[str]) -> None:
        unique = list(dict.fromkeys(keys))
        if len(unique) <= 1:
            for key in unique:
                self.delete(key)
            return
        answer = self.collection.remove_multi(unique, RemoveMultiOptions(return_exceptions=True))
        for exc in answer.exceptions.values():
            if not isinstance(exc, cb.DocumentNotFoundException):
                raise exc

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None, prefix: bytes) -> bool:
        """Create if absent, else replace the CAS read unless the stored value starts with ``prefix``."""
        value = bytes(value)
        for _ in range(CAS_ATTEMPTS):
            if self.create(key, value, ttl):
                return True
            current = self.read(key)
            if current is None:
                continue  # expired or deleted meanwhile: create again
            data, cas = current
            if data == value:
                return True  # our own write, retried after a lost response
            if data.startswith(prefix):
                return False
            if self.replace(key, value, ttl, cas):
                return True
        raise BackendError(f"{key}: too much write contention ({CAS_ATTEMPTS} attempts)")

    # -- errors, asyncio, naming, lifecycle ---------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        seen: BaseException | None = exc
        while seen is not None:
            if generic_transient(seen) or is_transient(seen):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def aio(self) -> AsyncCouchbaseStore:
        from .aio import AsyncCouchbaseStore

        return AsyncCouchbaseStore(self)

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        connection = self._connection.peek()
        self._connection.reset()
        if connection is not None:
            connection[0].close()
