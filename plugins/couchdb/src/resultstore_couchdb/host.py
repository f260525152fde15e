"""The class Celery loads for ``couchdb://`` (entry point in ``celery.result_backends``).

With Celery installed, :class:`CouchDBBackend` is an instance of Celery's
``celery.backends.couchdb.CouchBackend`` too; every public name of Celery's class
resolves to the code below or to core's (``tests/test_couchdb_celery_surface.py``).
"""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, StoreAttribute, celery_bases

from .store import CouchDBStore

__all__ = ["CouchDBBackend"]


class CouchDBBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.couchdb:CouchBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``couchdb://...`` URLs instead of its ``CouchBackend``."""

    resultstore_store = CouchDBStore

    #: The database results live in (Celery's name; the URL's path, default ``default``).
    container = StoreAttribute("config.database")
    host = StoreAttribute("config.host")
    port = StoreAttribute("config.port")
    username = StoreAttribute("config.username")
    #: The password sent with Basic auth (a :class:`~resultstore.masking.Secret`: ``**`` in reprs).
    password = StoreAttribute("config.password", secret=True)
    connection = CeleryDifference(
        "resultstore-couchdb speaks CouchDB's HTTP API through httpx, not pycouchdb: there is "
        "no pycouchdb Database (backend.backend.store.client is the httpx client)")

    @property
    def scheme(self) -> str:
        """``http`` (Celery's only one), or ``https`` with the ``ssl`` option."""
        store = self.backend.store
        assert isinstance(store, CouchDBStore)
        return "https" if store.config.ssl else "http"
