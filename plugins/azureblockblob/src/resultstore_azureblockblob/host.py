"""The class Celery loads for ``azureblockblob://`` (entry point in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend

from .store import AzureBlockBlobStore

__all__ = ["AzureBlockBlobBackend"]


class AzureBlockBlobBackend(CeleryBackend):
    resultstore_store = AzureBlockBlobStore
