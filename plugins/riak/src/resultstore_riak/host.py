"""The Celery host class (entry point ``riak``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import RiakStore

__all__ = ["RiakBackend"]


class RiakBackend(CeleryBackend):
    """Celery loads this for ``riak://`` URLs (Celery 5.7 maps the alias to a module it no
    longer ships)."""

    resultstore_store = RiakStore
