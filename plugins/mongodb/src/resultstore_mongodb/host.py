"""The Celery host class (entry point ``mongodb``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import MongoStore

__all__ = ["MongoBackend"]


class MongoBackend(CeleryBackend):
    """Celery loads this for ``mongodb://`` and ``mongodb+srv://`` URLs."""

    resultstore_store = MongoStore
