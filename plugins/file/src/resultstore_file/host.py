"""The class Celery loads for ``file://`` result backends (entry point ``file``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import FileStore

__all__ = ["FileBackend"]


class FileBackend(CeleryBackend):
    """Replaces ``celery.backends.filesystem:FilesystemBackend`` for ``file://`` URLs."""

    resultstore_store = FileStore
