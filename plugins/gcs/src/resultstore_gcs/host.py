"""The class Celery loads for ``gs://`` (entry point ``gs`` in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend

from .store import GCSStore

__all__ = ["GCSBackend"]


class GCSBackend(CeleryBackend):
    resultstore_store = GCSStore
