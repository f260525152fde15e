"""``connect(url, **options)``: a ready :class:`~resultstore.backend.ResultBackend`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .backend import ResultBackend
from .config import Settings
from .registry import Registry, default_registry

__all__ = ["connect"]


def connect(url: str, settings: Mapping[str, Any] | None = None, *,
            registry: Registry | None = None, **options: Any) -> ResultBackend:
    """Open the backend for ``url``.

    ``settings`` is a mapping with Celery's setting names (e.g. a Celery
    ``app.conf``); ``options`` override single settings::

        backend = connect("redis://localhost:6379/0", result_expires=3600)
    """
    merged = Settings(settings, **options)
    store_cls, store_url = (registry or default_registry).resolve(url, merged["override_backends"])
    store = store_cls.from_url(store_url, merged)
    return ResultBackend(store, merged, url=url)
