"""The Celery host class (entry point ``arangodb``)."""

from __future__ import annotations

from datetime import timedelta

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import ArangoStore

__all__ = ["ArangoDbBackend"]


class ArangoDbBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.arangodb:ArangoDbBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``arangodb://`` URLs (an instance of Celery's class too; Celery's
    public names resolve to resultstore's code, ``tests/test_arangodb_celery_surface.py``)."""

    resultstore_store = ArangoStore

    @staticmethod
    def key_t(value: str | bytes) -> str:
        """Celery's ``ArangoDbBackend`` has ``key_t = str``: its keys are text."""
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    host = StoreAttribute("config.host")
    port = StoreAttribute("config.port")
    database = StoreAttribute("config.database")
    collection = StoreAttribute("config.collection")
    username = StoreAttribute("config.username")
    password = StoreAttribute("config.password")
    http_protocol = StoreAttribute("config.http_protocol")
    verify = StoreAttribute("config.verify")
    arangodb_url = StoreAttribute("config.endpoint")
    #: python-arango's ``ArangoClient`` and ``StandardDatabase`` (Celery: pyArango's
    #: ``Connection`` and ``Database``).
    connection = StoreAttribute("client")
    db = StoreAttribute("db")

    @property
    def expires_delta(self) -> timedelta:
        """``result_expires`` as a ``timedelta`` (zero when None), as Celery's."""
        return timedelta(seconds=0 if self.expires is None else self.expires)
