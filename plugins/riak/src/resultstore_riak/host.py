"""The Celery host class (entry point ``riak``).

Celery 5.7 has no Riak backend class (its ``riak`` alias names a module it no longer
ships); with Celery installed, :class:`RiakBackend` is an instance of Celery's
``KeyValueStoreBackend`` (what Celery 4's ``RiakBackend`` was) and ``BaseBackend``, every
public name of them resolving to resultstore's code (``tests/test_riak_celery_surface.py``).
"""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import celery_bases

from .store import RiakStore

__all__ = ["RiakBackend"]


class RiakBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.base:KeyValueStoreBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``riak://`` URLs (Celery 5.7 maps the alias to a module it no
    longer ships)."""

    resultstore_store = RiakStore
