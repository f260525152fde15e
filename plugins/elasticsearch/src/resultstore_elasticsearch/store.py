"""``ElasticsearchStore``: results as documents laid out as Celery's ``ElasticsearchBackend``'s.

A result is the document ``_id = celery-task-meta-<id>`` in the index (default ``celery``)
with ``{"result": <meta>, "@timestamp": ...}`` (see :mod:`.documents`).  Beyond Celery:

* a guarded write is Celery's optimistic concurrency done in a loop: ``op_type=create``
  first, and on a conflict a realtime GET then an update conditional on ``if_seq_no`` /
  ``if_primary_term``, so a stored SUCCESS is never overwritten (and, as Celery, a ready
  state is not replaced by an unready one);
* batched reads (one ``_mget``) and writes (``_bulk``);
* ``cleanup`` deletes expired documents with one ``_delete_by_query``;
* native chords counted exactly once (:mod:`.chords`);
* an asyncio twin on ``AsyncElasticsearch`` (:mod:`.aio`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import elastic_transport
import elasticsearch
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

from resultstore import states
from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendStoreError
from resultstore.spec import AsyncKeyValueStore, Capability, KeyValueStore

from .chords import ElasticsearchChords
from .config import ElasticsearchConfig
from .documents import EXPIRES, TIMESTAMP, source, stamp, value_of

__all__ = ["ElasticsearchStore", "client_options", "TRANSIENT_STATUS"]

#: HTTP statuses worth a retry (overload, gateway errors).
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
#: Attempts at a guarded write that keeps meeting concurrent writers.
ATTEMPTS = 16


def client_options(config: ElasticsearchConfig) -> dict[str, Any]:
    """Constructor arguments shared by the sync and asyncio clients (Celery's values)."""
    options: dict[str, Any] = {"request_timeout": config.timeout,
                               "max_retries": config.max_retries,
                               "retry_on_timeout": config.retry_on_timeout}
    if config.basic_auth:
        options["basic_auth"] = config.basic_auth
    return options


def _status(payload: bytes) -> str | None:
    try:
        meta = json.loads(payload)
    except ValueError:
        return None
    return meta.get("status") if isinstance(meta, dict) else None


def keeps(stored: bytes | None, new: bytes, prefix: bytes) -> bool:
    """Celery's rule: keep a SUCCESS, and keep a ready state against an unready one."""
    if stored is None:
        return False
    if stored.startswith(prefix):
        return True
    return _status(stored) in states.READY_STATES and _status(new) in states.UNREADY_STATES


class ElasticsearchStore(ForwardChords, KeyValueStore):
    """Elasticsearch through the official client; see the module docstring."""

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD,
                              Capability.CLEANUP, Capability.AIO})

    def __init__(self, config: ElasticsearchConfig, client: Elasticsearch | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.config = config
        self.index = config.index
        self.clock = clock
        self.client = client or Elasticsearch(config.node, **client_options(config))
        self.chords = ElasticsearchChords(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ElasticsearchStore:
        return cls(ElasticsearchConfig.from_url(url, settings))

    def source(self, value: bytes, ttl: float | None) -> dict[str, Any]:
        return source(value, as_text=self.config.save_meta_as_text, now=self.clock(), ttl=ttl)

    # -- reads ------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> dict[str, Any] | None:
        """The realtime GET response (``_source``, ``_seq_no``, ``_primary_term``) or None."""
        try:
            response = self.client.get(index=self.index, id=doc_id)
        except NotFoundError:  # no such document, or no index yet
            return None
        return dict(response.body) if response.body.get("found") else None

    def get(self, key: str) -> bytes | None:
        document = self.get_document(key)
        return None if document is None else value_of(document.get("_source"))

    def mget_sources(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``_source`` of the documents that exist, one ``_mget``."""
        if not ids:
            return {}
        try:
            response = self.client.mget(index=self.index, ids=list(dict.fromkeys(ids)))
        except NotFoundError:
            return {}
        return {doc["_id"]: doc.get("_source") or {} for doc in response.body["docs"]
                if doc.get("found")}

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        found = self.mget_sources(keys)
        return [value_of(found[key]) if key in found else None for key in keys]

    # -- writes -----------------------------------------------------------------------
    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.client.index(index=self.index, id=key, document=self.source(value, ttl))

    def bulk(self, operations: list[dict[str, Any]]) -> None:
        """One ``_bulk`` request; a failed item raises (deleting what is not there, even in a
        missing index, is not a failure)."""
        if not operations:
            return
        response = self.client.bulk(index=self.index, operations=operations)
        if response.body.get("errors"):
            failed = [item for entry in response.body["items"] for action, item in entry.items()
                      if "error" in item and not (action == "delete" and item.get("status") == 404)]
            if failed:
                raise BackendStoreError(f"Elasticsearch bulk request: {len(failed)} items failed, "
                                        f"first: {failed[0]['error'].get('type')}")

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        operations: list[dict[str, Any]] = []
        for key, value in items.items():
            operations += [{"index": {"_id": key}}, self.source(value, ttl)]
        self.bulk(operations)

    def delete(self, key: str) -> None:
        try:
            self.client.delete(index=self.index, id=key)
        except NotFoundError:  # forget() stays idempotent, as Celery's
            pass

    def delete_many(self, keys: Sequence[str]) -> None:
        self.bulk([{"delete": {"_id": key}} for key in dict.fromkeys(keys)])

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        """Celery's ``_set_with_state``: create, else conditional update unless kept."""
        body = self.source(value, ttl)
        for _ in range(ATTEMPTS):
            try:
                self.client.index(index=self.index, id=key, document=body, op_type="create")
                return True
            except ConflictError:
                pass
            current = self.get_document(key)
            if current is None:
                continue  # deleted between the two calls: create again
            if keeps(value_of(current.get("_source")), value, prefix):
                return False
            try:  # a partial update (Celery's): clear an ``expires`` this write does not set
                self.client.update(index=self.index, id=key, doc={EXPIRES: None, **body},
                                   if_seq_no=current["_seq_no"],
                                   if_primary_term=current["_primary_term"])
                return True
            except ConflictError:
                continue  # another writer came in between: look again
        raise BackendStoreError(f"{key!r} kept changing during {ATTEMPTS} guarded writes")

    # -- expiry -----------------------------------------------------------------------
    def expired_query(self) -> dict[str, Any]:
        """Documents past their ``expires``; Celery's (no ``expires``) past ``result_expires``."""
        now = self.clock()
        should: list[dict[str, Any]] = [{"range": {EXPIRES: {"lt": stamp(now)}}}]
        if self.config.expires:
            cutoff = stamp(now - timedelta(seconds=self.config.expires))
            should.append({"bool": {"must_not": [{"exists": {"field": EXPIRES}}],
                                    "filter": [{"range": {TIMESTAMP: {"lt": cutoff}}}]}})
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def cleanup(self) -> int:
        """Refresh, then one ``_delete_by_query`` of :meth:`expired_query`; returns the count."""
        try:
            self.client.indices.refresh(index=self.index)
            response = self.client.delete_by_query(index=self.index, query=self.expired_query(),
                                                   conflicts="proceed", refresh=True)
        except NotFoundError:  # no index: nothing stored yet
            return 0
        return int(response.body.get("deleted", 0))

    # -- plumbing ---------------------------------------------------------------------
    def aio(self) -> AsyncKeyValueStore:
        from .aio import AsyncElasticsearchStore

        return AsyncElasticsearchStore(self)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections, timeouts, overload and gateway errors; never 4xx client errors."""
        if isinstance(exc, ApiError):
            return exc.status_code in TRANSIENT_STATUS
        return isinstance(exc, (elastic_transport.ConnectionError,
                                elastic_transport.ConnectionTimeout,
                                elasticsearch.ConnectionError))

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        self.client.close()
