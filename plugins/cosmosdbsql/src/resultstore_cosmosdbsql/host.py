"""The Celery host class (entry point ``cosmosdbsql``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import CosmosStore

__all__ = ["CosmosDBSQLBackend"]


class CosmosDBSQLBackend(CeleryBackend):
    """Celery loads this for ``cosmosdbsql://`` URLs."""

    resultstore_store = CosmosStore
