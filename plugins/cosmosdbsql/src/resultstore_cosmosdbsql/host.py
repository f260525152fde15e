"""The Celery host class (entry point ``cosmosdbsql``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import celery_bases

from .store import CosmosStore

__all__ = ["CosmosDBSQLBackend"]


class CosmosDBSQLBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.cosmosdbsql:CosmosDBSQLBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``cosmosdbsql://`` URLs (an instance of Celery's class too; Celery's
    public names resolve to resultstore's code, ``tests/test_cosmosdbsql_celery_surface.py``)."""

    resultstore_store = CosmosStore
