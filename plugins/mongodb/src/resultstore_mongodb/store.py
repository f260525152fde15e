"""``MongoStore``: task results as documents laid out as Celery's ``MongoBackend``'s.

Celery's collections (``celery_taskmeta``, ``celery_groupmeta`` by default) and documents
(:mod:`resultstore_mongodb.documents`), so Celery and resultstore share one database.
Beyond Celery's backend:

* native expiry: a TTL index on ``date_done`` (Celery only has ``cleanup``), and documents
  past their lifetime are hidden at once (MongoDB's TTL monitor deletes them up to a
  minute late);
* a stored SUCCESS is kept by one conditional ``replace_one`` (as Celery 5.7), and an
  expired SUCCESS no longer guards;
* batched reads: one ``find({_id: {$in: [...]}})`` per 1000 ids;
* native chords counted exactly once (:mod:`resultstore_mongodb.chords`);
* push wake-ups from change streams where the deployment has them
  (:mod:`resultstore_mongodb.push`), polling otherwise;
* a native asyncio twin on pymongo's ``AsyncMongoClient`` (:mod:`resultstore_mongodb.aio`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pymongo
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    DuplicateKeyError,
    InvalidDocument,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from resultstore import states
from resultstore.config import Settings
from resultstore.errors import BackendStoreError, ImproperlyConfigured, InvalidTaskId
from resultstore.masking import mask_text
from resultstore.spec import Capability, ChordProgress, MessageHandler, MetaStore, Subscriber

from .chords import MongoChords
from .config import MongoConfig
from .documents import (
    FieldCodec,
    document_to_group,
    document_to_meta,
    group_to_document,
    meta_to_document,
    to_datetime,
)

__all__ = ["MongoStore", "TTL_INDEX", "BATCH_SIZE"]

log = logging.getLogger(__name__)

#: Name of resultstore's TTL index on ``date_done`` (Celery's plain index is ``date_done_1``;
#: ours is partial on BSON dates so both can exist side by side).
TTL_INDEX = "resultstore_expiry"
#: Ids per ``$in`` query of a batched read.
BATCH_SIZE = 1000
#: Server error codes worth a retry besides connection errors (write conflicts, step-downs).
_TRANSIENT_CODES = frozenset({112, 189, 91, 11600, 11602, 10107, 13435, 13436, 6, 7, 89, 9001})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: Live stores, so a forked child (Celery's prefork pool) reopens their clients.
_STORES: weakref.WeakSet[MongoStore] = weakref.WeakSet()


def _after_fork() -> None:
    """pymongo clients are not fork-safe: a child opens its own (the parent's is left alone)."""
    for store in list(_STORES):
        if store._own_client:
            store._open()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _check_id(value: str, what: str = "task") -> str:
    if not value:
        raise InvalidTaskId(f"{what} id must be a non-empty string")
    return value


class MongoStore(MetaStore):
    """Celery's MongoDB documents through pymongo 4; see the module docstring."""

    certificate_settings = (
        "tlsCAFile / tlsCertificateKeyFile / tlsAllowInvalidHostnames in the mongodb:// URL or "
        "in mongodb_backend_settings['options']")

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD,
                              Capability.CLEANUP, Capability.SUBSCRIBE, Capability.AIO})

    def __init__(self, config: MongoConfig, client: Any = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.clock = clock
        self._own_client = client is None
        self._open(client)
        _STORES.add(self)
        self._indexed: set[str] = set()
        self._lock = threading.Lock()
        self._fields: FieldCodec | None = None
        self.chords = MongoChords(self)

    def _open(self, client: Any = None) -> None:
        """The client and the collection handles (``connect=False``: no I/O until first use)."""
        config = self.config
        if client is None:
            try:
                client = pymongo.MongoClient(**config.client_kwargs(), connect=False)
            except (ConfigurationError, ValueError, TypeError) as exc:  # InvalidURI included
                raise ImproperlyConfigured(
                    f"MongoDB client options of {config.as_uri()!r}: "
                    f"{mask_text(str(exc), config.secrets())}") from None
        self.client = client
        database = self.client[config.database]
        self.tasks = database[config.taskmeta_collection]
        self.groups = database[config.groupmeta_collection]
        self.chord_docs = database[config.chordmeta_collection]
        self.part_docs = database[f"{config.chordmeta_collection}.parts"]

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> MongoStore:
        return cls(MongoConfig.from_url(url, settings))

    @property
    def fields(self) -> FieldCodec:
        if self._fields is None:
            self._fields = FieldCodec(self.codec)
        return self._fields

    # -- expiry -------------------------------------------------------------------
    def lifetime(self, status: Any) -> float | None:
        return self.config.failure_expires if status == states.FAILURE else self.config.expires

    def _expired(self, document: Mapping[str, Any], now: datetime) -> bool:
        lifetime = self.lifetime(document.get("status"))
        done = document.get("date_done")
        if not lifetime or not isinstance(done, datetime):
            return False
        moment = to_datetime(done)
        return moment is not None and moment + timedelta(seconds=lifetime) <= now

    def ensure_indexes(self, collection: Any, lifetime: float | None) -> None:
        """Create the TTL index on ``date_done`` once per collection (first write)."""
        with self._lock:
            if collection.name in self._indexed:
                return
            self._indexed.add(collection.name)
        if not lifetime:
            return
        seconds = max(int(lifetime), 1)
        try:
            existing = {i["name"]: i for i in collection.list_indexes()}.get(TTL_INDEX)
            if existing is None:
                collection.create_index(
                    "date_done", name=TTL_INDEX, expireAfterSeconds=seconds,
                    partialFilterExpression={"date_done": {"$type": "date"}})
            elif int(existing.get("expireAfterSeconds", -1)) != seconds:
                collection.database.command("collMod", collection.name, index={
                    "name": TTL_INDEX, "expireAfterSeconds": seconds})
                log.info("MongoDB %s: TTL index now expires after %ss", collection.name, seconds)
        except (PyMongoError, NotImplementedError, TypeError) as exc:  # mongomock: no collMod
            log.warning("Cannot create/adjust the TTL index on %s.date_done (%s); expired results "
                        "are hidden on read and removed by cleanup().", collection.name, exc)

    def _task_lifetime(self) -> float | None:
        """One TTL index serves every state: the longer of the two lifetimes (never if either is)."""
        expires, failure = self.config.expires, self.config.failure_expires
        return None if not expires or not failure else max(expires, failure)

    # -- task metas -------------------------------------------------------------
    def _replace(self, task_id: str, meta: Mapping[str, Any], guarded: bool) -> bool:
        if self.tasks.name not in self._indexed:
            self.ensure_indexes(self.tasks, self._task_lifetime())
        task_id = _check_id(str(task_id))
        document = meta_to_document(task_id, meta, self.fields)
        query: dict[str, Any] = {"_id": task_id}
        if guarded:
            keep: list[dict[str, Any]] = [{"status": {"$ne": states.SUCCESS}}]
            if self.config.expires:  # an expired SUCCESS (not yet deleted) no longer guards
                cutoff = self.clock() - timedelta(seconds=self.config.expires)
                keep.append({"date_done": {"$lt": cutoff}})
            query.update({"$or": keep} if len(keep) > 1 else keep[0])
        for _ in range(2):  # one retry: a concurrent first insert also raises DuplicateKeyError
            try:
                self.tasks.replace_one(query, document, upsert=True)
                return True
            except DuplicateKeyError:
                continue  # guarded: a SUCCESS is stored (or a concurrent insert won: retry)
            except InvalidDocument as exc:
                raise BackendStoreError(f"MongoDB cannot store this result: {exc}") from exc
        if not guarded:
            raise BackendStoreError(f"Task {task_id!r}: concurrent inserts kept conflicting")
        return False  # a SUCCESS is stored: kept

    def set_meta(self, task_id: str, meta: Mapping[str, Any]) -> None:
        self._replace(task_id, meta, guarded=False)

    def set_meta_unless_success(self, task_id: str, meta: Mapping[str, Any]) -> bool:
        return self._replace(task_id, meta, guarded=True)

    def _meta(self, document: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
        if document is None or self._expired(document, now):
            return None
        return document_to_meta(document, self.fields, self.config.extended)

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        return self._meta(self.tasks.find_one({"_id": str(task_id)}), self.clock())

    def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(str(t) for t in task_ids))
        found: dict[str, dict[str, Any]] = {}
        now = self.clock()
        for start in range(0, len(ids), BATCH_SIZE):
            for document in self.tasks.find({"_id": {"$in": ids[start:start + BATCH_SIZE]}}):
                meta = self._meta(document, now)
                if meta is not None:
                    found[document["_id"]] = meta
        return found

    def delete_meta(self, task_id: str) -> None:
        self.tasks.delete_one({"_id": str(task_id)})

    # -- groups -------------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any] | None:
        document = self.groups.find_one({"_id": str(group_id)})
        if document is None:
            return None
        expires, done = self.config.expires, document.get("date_done")
        if expires and isinstance(done, datetime):
            moment = to_datetime(done)
            if moment is not None and moment + timedelta(seconds=expires) <= self.clock():
                return None
        return document_to_group(document, self.fields)

    def set_group(self, group_id: str, meta: Mapping[str, Any]) -> None:
        if self.groups.name not in self._indexed:
            self.ensure_indexes(self.groups, self.config.expires)
        group_id = _check_id(str(group_id), "group")
        self.groups.replace_one({"_id": group_id},
                                group_to_document(group_id, meta, self.fields, self.clock),
                                upsert=True)

    def delete_group(self, group_id: str) -> None:
        self.groups.delete_one({"_id": str(group_id)})

    # -- chords (see resultstore_mongodb.chords) ------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        self.chords.set_size(group_key, size)

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        return self.chords.add(group_key, member, index, value)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self.chords.grow(group_key, by)

    def chord_parts(self, group_key: str) -> list[bytes]:
        return self.chords.parts(group_key)

    def chord_clear(self, group_key: str) -> None:
        self.chords.clear(group_key)

    # -- push and asyncio ---------------------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> Subscriber:
        """A change stream on the task collection (replica sets and sharded clusters only)."""
        from .push import ChangeStreamSubscriber

        return ChangeStreamSubscriber.open(self, on_message, on_reconnect)

    def aio(self) -> Any:
        """The asyncio twin on pymongo's ``AsyncMongoClient`` (same collections)."""
        from .aio import AsyncMongoStore

        return AsyncMongoStore(self)

    # -- maintenance ----------------------------------------------------------------
    def cleanup(self) -> int:
        """Delete what is past its lifetime now (the TTL monitor would, within a minute):
        results by state (FAILUREs: ``result_failure_expires``), groups, and chords."""
        now = self.clock()
        config, deleted = self.config, 0
        if config.expires:
            cutoff = now - timedelta(seconds=config.expires)
            deleted += self.tasks.delete_many(
                {"date_done": {"$lt": cutoff}, "status": {"$ne": states.FAILURE}}).deleted_count
            deleted += self.groups.delete_many({"date_done": {"$lt": cutoff}}).deleted_count
        if config.failure_expires:
            cutoff = now - timedelta(seconds=config.failure_expires)
            deleted += self.tasks.delete_many(
                {"date_done": {"$lt": cutoff}, "status": states.FAILURE}).deleted_count
        if config.chord_expires:
            stale = {"date_done": {"$lt": now - timedelta(seconds=config.chord_expires)}}
            self.chord_docs.delete_many(stale)
            self.part_docs.delete_many(stale)
        return deleted

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections, elections, timeouts and write conflicts; never data errors."""
        if isinstance(exc, (AutoReconnect, NetworkTimeout, NotPrimaryError,
                            ServerSelectionTimeoutError, WTimeoutError)):
            return True
        return isinstance(exc, OperationFailure) and exc.code in _TRANSIENT_CODES

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"<MongoStore {self.as_uri()}>"
