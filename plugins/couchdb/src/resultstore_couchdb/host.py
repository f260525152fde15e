"""The class Celery loads for ``couchdb://`` (entry point in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend

from .store import CouchDBStore

__all__ = ["CouchDBBackend"]


class CouchDBBackend(CeleryBackend):
    """Celery loads this for ``couchdb://...`` URLs instead of its ``CouchBackend``."""

    resultstore_store = CouchDBStore
