"""Celery host adapter: backend classes a Celery app loads from ``celery.result_backends``.

A plugin exposes its store to Celery with a three-line subclass::

    from resultstore.celery import CeleryBackend

    class FileBackend(CeleryBackend):
        resultstore_store = FileStore

and an entry point ``file = "resultstore_file.host:FileBackend"`` in the
``celery.result_backends`` group.  Celery is never imported at import time.
"""

from .host import CeleryBackend

__all__ = ["CeleryBackend"]
