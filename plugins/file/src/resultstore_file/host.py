"""The class Celery loads for ``file://`` result backends (entry point ``file``)."""

from __future__ import annotations

import os

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import celery_bases

from .store import FileStore

__all__ = ["FileBackend"]


class FileBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.filesystem:FilesystemBackend", "celery.backends.base:BaseBackend")):
    """Replaces ``celery.backends.filesystem:FilesystemBackend`` for ``file://`` URLs.

    With Celery installed it is an instance of that class too; Celery's public
    names resolve to resultstore's code (``tests/test_file_celery_surface.py``).
    """

    resultstore_store = FileStore
    #: Celery's ``FilesystemBackend`` attributes: the separator (bytes) and the file
    #: functions it was built with (the store opens files itself, without following links).
    sep = os.sep.encode()
    open = staticmethod(open)
    unlink = staticmethod(os.unlink)

    @property
    def path(self) -> bytes:
        """The results directory, as bytes (Celery's ``FilesystemBackend.path``)."""
        store = self.backend.store
        assert isinstance(store, FileStore)
        return bytes(store.layout.root)
