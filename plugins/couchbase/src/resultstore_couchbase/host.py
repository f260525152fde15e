"""The class Celery loads for ``couchbase://`` (entry point in ``celery.result_backends``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .config import CouchbaseConfig
from .store import CouchbaseStore

__all__ = ["CouchbaseBackend"]


class CouchbaseBackend(CeleryBackend):
    """Celery loads this for ``couchbase://...`` URLs instead of its ``CouchbaseBackend``.

    Celery's attributes ``host``, ``port``, ``bucket``, ``username`` and ``timeout`` read the
    configuration in use (the password is not exposed).
    """

    resultstore_store = CouchbaseStore

    @property
    def _couchbase_config(self) -> CouchbaseConfig:
        store = self.backend.store
        assert isinstance(store, CouchbaseStore)
        return store.config

    @property
    def host(self) -> str:
        return self._couchbase_config.host

    @property
    def port(self) -> int:
        return self._couchbase_config.port

    @property
    def bucket(self) -> str:
        return self._couchbase_config.bucket

    @property
    def username(self) -> str | None:
        return self._couchbase_config.username

    @property
    def timeout(self) -> float:
        return self._couchbase_config.timeout
