"""``ArangoStore``: results as documents laid out as Celery's ``ArangoDbBackend``'s, through
python-arango (the official driver; Celery's backend uses pyArango).

A result is the document ``_key = celery-task-meta-<id>`` with ``task`` (see
:mod:`.documents`) in the collection (default ``celery``) of the database (default
``celery``).  Beyond Celery:

* expiry by a TTL index on ``expires_at`` (the server deletes expired documents by itself;
  reads ignore a document past its time before the server's sweep removes it);
* a guarded write that keeps a stored SUCCESS: insert, and on a 409 a read then a replace
  conditional on the ``_rev`` just read (412 on a concurrent change: read again);
* batched reads (one ``PUT /_api/document/<collection>?onlyget=true``) and writes (one
  array insert / remove);
* native chords counted exactly once (:mod:`.chords`).

The collection and its indexes are created on first use (once per store); a missing
database is created through ``_system`` when the credentials allow it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from arango.client import ArangoClient
from arango.collection import StandardCollection
from arango.database import StandardDatabase
from arango.exceptions import (
    ArangoServerError,
    CollectionCreateError,
    DocumentInsertError,
    DocumentRevisionError,
)
from arango.http import DefaultHTTPClient

from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendStoreError
from resultstore.spec import Capability, KeyValueStore

from .chords import ArangoChords
from .config import ArangoConfig
from .documents import EXPIRES, body, doc_key, url_key, value_of

__all__ = ["ArangoStore", "ArangoTLSError", "TRANSIENT_STATUS"]

#: HTTP statuses worth a retry (overload, unavailable, gateway errors).
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: ArangoDB error numbers: duplicate name, database not found, unique constraint violated.
DUPLICATE_NAME, DATABASE_NOT_FOUND, UNIQUE_CONSTRAINT = 1207, 1228, 1210
#: Attempts at a guarded write that keeps meeting concurrent writers.
ATTEMPTS = 16
#: The indexes the store needs: expiry and the chord parts' lookup.
INDEXES: list[dict[str, Any]] = [
    {"type": "ttl", "fields": [EXPIRES], "expireAfter": 0},
    {"type": "persistent", "fields": ["chord"], "sparse": True},
]


class ArangoTLSError(Exception):
    """A TLS handshake failed (the ``requests`` error is its ``__cause__``).

    python-arango treats every ``requests.ConnectionError`` (``SSLError`` is one) as a host to
    try again and then raises a bare ``ConnectionAbortedError``, losing the reason; raised
    instead, this keeps it, so a certificate that does not verify is reported at once, naming
    ``arangodb_backend_settings['verify']``, instead of being retried as a lost connection.
    """


class _HTTPClient(DefaultHTTPClient):
    """python-arango's requests client, letting TLS failures through (see ArangoTLSError)."""

    def send_request(self, session: Any, method: str, url: str, headers: Any = None,
                     params: Any = None, data: Any = None, auth: Any = None) -> Any:
        try:
            return super().send_request(session, method, url, headers, params, data, auth)
        except requests.exceptions.SSLError as exc:
            raise ArangoTLSError(f"TLS with {url.split('?')[0]} failed: {exc}") from exc


class ArangoStore(ForwardChords, KeyValueStore):
    """ArangoDB through python-arango; see the module docstring."""

    capabilities = frozenset({Capability.BATCH, Capability.GUARDED_SET, Capability.CHORD})
    certificate_settings = ("arangodb_backend_settings['verify'] (True, False, or the path of a CA "
                            "bundle that signs the server's certificate)")

    def __init__(self, config: ArangoConfig, client: ArangoClient | None = None) -> None:
        self.config = config
        # Core retries (result_backend_always_retry): the driver's own urllib3 retries are off,
        # and so are its host resolver's (3 tries per host by default, which made a read of a
        # hung server take 3 x arangodb_timeout: urllib3 reports a GET's read timeout as a
        # connection error).
        self.client = client or ArangoClient(
            hosts=config.endpoint, verify_override=config.verify, resolver_max_tries=1,
            http_client=_HTTPClient(request_timeout=config.timeout, retry_attempts=0))
        self.db: StandardDatabase = self.client.db(config.database, *self.credentials())
        self._ready = False
        self._lock = threading.Lock()
        self.chords = ArangoChords(self)

    def credentials(self) -> tuple[str, str]:
        """``(username, password)`` for basic auth as UTF-8 (requests would encode ``str``
        credentials as Latin-1, and fail on other characters with the password in its error)."""
        user, password = self.config.username or "", self.config.password or ""
        return (user.encode("utf-8").decode("latin-1"),
                password.encode("utf-8").decode("latin-1"))

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ArangoStore:
        return cls(ArangoConfig.from_url(url, settings))

    @property
    def collection(self) -> StandardCollection:
        """The collection, created with its indexes on first use."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._setup()
                    self._ready = True
        return self.db.collection(self.config.collection)

    def _setup(self) -> None:
        try:
            self.db.create_collection(self.config.collection)
        except CollectionCreateError as exc:
            if exc.error_code == DATABASE_NOT_FOUND:
                system = self.client.db("_system", *self.credentials())
                system.create_database(self.config.database)
                self._setup()
                return
            if exc.error_code != DUPLICATE_NAME:
                raise
        collection = self.db.collection(self.config.collection)
        for index in INDEXES:
            collection.add_index(dict(index))  # the same definition again is a no-op

    # -- reads ------------------------------------------------------------------------
    def get_document(self, key: str) -> dict[str, Any] | None:
        """The stored document (with ``_rev``), expired or not, or None."""
        doc = self.collection.get(url_key(key))
        return doc if isinstance(doc, dict) else None

    def get(self, key: str) -> bytes | None:
        return value_of(self.get_document(key))

    def get_documents(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents that exist, by ``_key``, in one request."""
        wanted = list(dict.fromkeys(doc_key(k) for k in keys))
        if not wanted:
            return {}
        found = self.collection.get_many(wanted)
        return {doc["_key"]: doc for doc in found or [] if isinstance(doc, dict)  # type: ignore[union-attr]
                and "_key" in doc}

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        found = self.get_documents(keys)
        return [value_of(found.get(doc_key(key))) for key in keys]

    # -- writes -----------------------------------------------------------------------
    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.collection.insert(body(key, value, ttl), overwrite=True, overwrite_mode="replace",
                               silent=True)

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        if not items:
            return
        results = self.collection.insert_many(
            [body(key, value, ttl) for key, value in items.items()], overwrite=True,
            overwrite_mode="replace")
        self._check_bulk(results, "insert", ignore=())

    def delete(self, key: str) -> None:
        self.collection.delete(url_key(key), ignore_missing=True, silent=True)

    def delete_many(self, keys: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(doc_key(k) for k in keys))
        if wanted:
            results = self.collection.delete_many([{"_key": k} for k in wanted], silent=False)
            self._check_bulk(results, "remove", ignore=(1202,))  # not found: already gone

    @staticmethod
    def _check_bulk(results: Any, what: str, ignore: tuple[int, ...]) -> None:
        if not isinstance(results, list):
            return
        failed = [r for r in results if isinstance(r, ArangoServerError)
                  and r.error_code not in ignore]
        if failed:
            raise BackendStoreError(f"ArangoDB array {what}: {len(failed)} documents failed, "
                                    f"first: [{failed[0].error_code}] {failed[0].error_message}")

    def insert_new(self, doc: dict[str, Any]) -> bool:
        """Create ``doc``; False when a document with its ``_key`` exists (409)."""
        try:
            self.collection.insert(doc, silent=True)
            return True
        except DocumentInsertError as exc:
            if exc.error_code == UNIQUE_CONSTRAINT:
                return False
            raise

    def replace_if(self, key: str, doc: dict[str, Any], rev: str) -> bool:
        """Replace the document of ``key`` conditionally on ``rev`` (``_rev`` sent with
        ``ignoreRevs=false``); False on
        a 412 (changed meanwhile)."""
        collection = self.collection
        handle = {**doc, "_id": f"{collection.name}/{url_key(key)}", "_rev": rev}
        try:
            collection.replace(handle, check_rev=True, silent=True)
            return True
        except DocumentRevisionError:
            return False

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        new = body(key, value, ttl)
        for _ in range(ATTEMPTS):
            if self.insert_new(new):
                return True
            current = self.get_document(key)
            if current is None:
                continue  # deleted between the two calls: create again
            stored = value_of(current)
            if stored is not None and stored.startswith(prefix):
                return False
            if self.replace_if(key, new, current["_rev"]):
                return True
        raise BackendStoreError(f"{key!r} kept changing during {ATTEMPTS} guarded writes")

    # -- plumbing ---------------------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections, timeouts, overload and gateway errors; never 4xx client errors."""
        if isinstance(exc, ArangoServerError):
            return exc.http_code in TRANSIENT_STATUS
        return isinstance(exc, (ConnectionAbortedError, requests.ConnectionError,
                                requests.Timeout, ArangoTLSError))

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        self.client.close()
