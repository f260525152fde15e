"""The class Celery loads for ``couchbase://`` (entry point in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend

from .store import CouchbaseStore

__all__ = ["CouchbaseBackend"]


class CouchbaseBackend(CeleryBackend):
    """Celery loads this for ``couchbase://...`` URLs instead of its ``CouchbaseBackend``."""

    resultstore_store = CouchbaseStore
