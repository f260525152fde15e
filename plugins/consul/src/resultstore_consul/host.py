"""The Celery host class (entry point ``consul``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import ConsulStore

__all__ = ["ConsulBackend"]


class ConsulBackend(CeleryBackend):
    """Celery loads this for ``consul://`` URLs."""

    resultstore_store = ConsulStore
