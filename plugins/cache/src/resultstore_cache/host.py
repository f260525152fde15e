"""The Celery host class (entry point ``cache``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import CacheStore

__all__ = ["CacheBackend"]


class CacheBackend(CeleryBackend):
    """Celery loads this for ``cache+memcached://``, ``cache+pylibmc://``, ``cache+memory://``."""

    resultstore_store = CacheStore
