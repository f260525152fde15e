"""The Celery host class (entry point ``arangodb``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import ArangoStore

__all__ = ["ArangoDbBackend"]


class ArangoDbBackend(CeleryBackend):
    """Celery loads this for ``arangodb://`` URLs."""

    resultstore_store = ArangoStore
