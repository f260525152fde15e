"""The Celery host class (entry point ``dynamodb``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import DynamoDBStore

__all__ = ["DynamoDBBackend"]


class DynamoDBBackend(CeleryBackend):
    """Celery loads this for ``dynamodb://...`` URLs."""

    resultstore_store = DynamoDBStore
