"""Celery host adapter: backend classes a Celery app loads from ``celery.result_backends``.

A plugin exposes its store to Celery with a three-line subclass::

    from resultstore.celery import CeleryBackend

    class FileBackend(CeleryBackend):
        resultstore_store = FileStore

and an entry point ``file = "resultstore_file.host:FileBackend"`` in the
``celery.result_backends`` group.  Importing it works without Celery installed;
with Celery, the host classes also inherit Celery's backend classes (``isinstance``
holds) while every name resolves to resultstore's code.
"""

from .host import CeleryBackend

__all__ = ["CeleryBackend"]
