"""The Celery host class (entry point ``elasticsearch``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import ElasticsearchStore

__all__ = ["ElasticsearchBackend"]


class ElasticsearchBackend(CeleryBackend):
    """Celery loads this for ``elasticsearch://`` and ``elasticsearch+https://`` URLs."""

    resultstore_store = ElasticsearchStore
