"""The Celery host class (entry points ``database`` and ``db``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import DatabaseStore

__all__ = ["DatabaseBackend"]


class DatabaseBackend(CeleryBackend):
    """Celery loads this for ``db+postgresql://...``, ``db+sqlite:///...`` (any SQLAlchemy URL)."""

    resultstore_store = DatabaseStore
