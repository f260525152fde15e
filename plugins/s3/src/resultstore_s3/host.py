"""The class Celery loads for ``s3://`` (entry point ``s3`` in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend

from .store import S3Store

__all__ = ["S3Backend"]


class S3Backend(CeleryBackend):
    resultstore_store = S3Store
