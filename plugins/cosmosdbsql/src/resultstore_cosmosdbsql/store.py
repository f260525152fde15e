"""``CosmosStore``: results as items laid out as Celery's ``CosmosDBSQLBackend``'s, through
azure-cosmos 4 (Celery's backend uses pydocumentdb 2.3.5, deprecated).

A result is the item ``id = celery-task-meta-<id>`` with ``value`` (see :mod:`.documents`) in
the container (Celery: collection, default ``celerycol``, partition key ``/id``) of the
database (default ``celerydb``).  Beyond Celery:

* expiry by Cosmos DB's per-item ``ttl`` (the container gets ``defaultTtl = -1``);
* a guarded write that keeps a stored SUCCESS: ``create_item``, and on a 409 a read then a
  ``replace_item`` conditional on the ``_etag`` just read (``If-Match``; 412: read again);
* batched reads (``read_items``: one ``id IN (...)`` query per partition key range);
* native chords counted exactly once (:mod:`.chords`);
* an asyncio twin on ``azure.cosmos.aio`` (:mod:`.aio`).

The client, the database and the container (with ``defaultTtl = -1`` added to one Celery
created without it) are set up on first use, as Celery does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendStoreError
from resultstore.spec import AsyncKeyValueStore, Capability, KeyValueStore

# azure.cosmos.aio (aiohttp) is imported with the store, not on the first await: that import
# takes 0.2-0.8 s, which would otherwise stall the first asyncio call of a process.
from .aio import AsyncCosmosStore
from .chords import CosmosChords
from .config import CosmosConfig
from .documents import body, doc_id, value_of

__all__ = ["CosmosStore", "TRANSIENT_STATUS"]

#: HTTP statuses worth a retry (timeout, throttled, retry-with, server errors).
TRANSIENT_STATUS = frozenset({408, 429, 449, 500, 502, 503, 504})
#: Attempts at a guarded write that keeps meeting concurrent writers.
ATTEMPTS = 16


def partition_key() -> PartitionKey:
    return PartitionKey(path="/id")


class CosmosStore(ForwardChords, KeyValueStore):
    """Cosmos DB for NoSQL through azure-cosmos; see the module docstring."""

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD,
                              Capability.AIO})
    certificate_settings = ("cosmosdbsql_verify (True, False, or the path of a CA bundle that "
                            "signs the server's certificate, e.g. the emulator's)")

    def __init__(self, config: CosmosConfig) -> None:
        self.config = config
        self._client: CosmosClient | None = None
        self._container: ContainerProxy | None = None
        self._lock = threading.Lock()
        self.chords = CosmosChords(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CosmosStore:
        return cls(CosmosConfig.from_url(url, settings))

    @property
    def container(self) -> ContainerProxy:
        """The container, set up on first use (the client reads the account at creation)."""
        if self._container is None:
            with self._lock:
                if self._container is None:
                    self._container = self._setup()
        return self._container

    def _setup(self) -> ContainerProxy:
        self._client = CosmosClient(self.config.endpoint, credential=self.config.key,
                                    **self.config.client_options())
        database = self._client.create_database_if_not_exists(self.config.database)
        container = database.create_container_if_not_exists(
            self.config.collection, partition_key=partition_key(), default_ttl=-1)
        if "defaultTtl" not in container.read():  # Celery's: per-item ttl needs a default
            container = database.replace_container(container, partition_key=partition_key(),
                                                   default_ttl=-1)
        return container

    # -- reads ------------------------------------------------------------------------
    def read(self, key: str) -> dict[str, Any] | None:
        """The stored item (with ``_etag``) or None."""
        item_id = doc_id(key)
        try:
            item = self.container.read_item(item_id, partition_key=item_id)
        except CosmosResourceNotFoundError:
            return None
        return dict(item)

    def get(self, key: str) -> bytes | None:
        return value_of(self.read(key))

    def read_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The items that exist, by id (``read_items``: queries per partition key range)."""
        ids = list(dict.fromkeys(doc_id(k) for k in keys))
        if not ids:
            return {}
        found = self.container.read_items([(i, i) for i in ids])
        return {item["id"]: dict(item) for item in found
                if isinstance(item, dict) and isinstance(item.get("id"), str)}

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        found = self.read_many(keys)
        return [value_of(found.get(doc_id(key))) for key in keys]

    # -- writes -----------------------------------------------------------------------
    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.container.upsert_item(body(key, value, ttl), no_response=True)

    def delete(self, key: str) -> None:
        item_id = doc_id(key)
        try:
            self.container.delete_item(item_id, partition_key=item_id)
        except CosmosResourceNotFoundError:  # forget() stays idempotent, as Celery's
            pass

    def create(self, item: dict[str, Any]) -> bool:
        """``create_item``; False when an item with its id exists (409)."""
        try:
            self.container.create_item(item, no_response=True)
            return True
        except CosmosResourceExistsError:
            return False

    def replace_if(self, item: dict[str, Any], etag: str) -> bool:
        """``replace_item`` with ``If-Match: etag``; False on a 412 (changed meanwhile)."""
        try:
            self.container.replace_item(item["id"], item, etag=etag,
                                        match_condition=MatchConditions.IfNotModified,
                                        no_response=True)
            return True
        except (CosmosAccessConditionFailedError, CosmosResourceNotFoundError):
            return False

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        new = body(key, value, ttl)
        for _ in range(ATTEMPTS):
            if self.create(new):
                return True
            current = self.read(key)
            if current is None:
                continue  # deleted between the two calls: create again
            stored = value_of(current)
            if stored is not None and stored.startswith(prefix):
                return False
            if self.replace_if(new, current["_etag"]):
                return True
        raise BackendStoreError(f"{key!r} kept changing during {ATTEMPTS} guarded writes")

    # -- plumbing ---------------------------------------------------------------------
    def aio(self) -> AsyncKeyValueStore:
        return AsyncCosmosStore(self)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections, timeouts, throttling and server errors; never 4xx client errors."""
        if isinstance(exc, CosmosHttpResponseError):
            return exc.status_code in TRANSIENT_STATUS
        return isinstance(exc, (ServiceRequestError, ServiceResponseError))

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
