"""The Celery host class (entry point ``cache``)."""

from __future__ import annotations

from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import celery_bases

from .store import CacheStore

__all__ = ["CacheBackend"]


class CacheBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.cache:CacheBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``cache+memcached://``, ``cache+pylibmc://``, ``cache+memory://``.

    With Celery installed it is an instance of Celery's ``CacheBackend`` too;
    Celery's public names resolve to resultstore's code
    (``tests/test_cache_celery_surface.py``).
    """

    resultstore_store = CacheStore

    def _cache_store(self) -> CacheStore:
        store = self.backend.store
        if not isinstance(store, CacheStore):
            raise AttributeError("cache+memory:// keeps results in this process: no memcached client")
        return store

    @property
    def servers(self) -> list[str] | None:
        """``['host:port', ...]`` from the URL, as Celery's."""
        store = self.backend.store
        return list(store.config.servers) if isinstance(store, CacheStore) else None

    @property
    def options(self) -> dict[str, Any]:
        """The memcached client options (``cache_backend_options`` and URL options)."""
        store = self.backend.store
        return dict(store.config.options) if isinstance(store, CacheStore) else {}

    @property
    def client(self) -> Any:
        """The memcached client: pymemcache's (Celery's is pylibmc's or python-memcached's)."""
        return self._cache_store().client

    @property
    def Client(self) -> type:  # Celery's name
        return type(self._cache_store().client)
