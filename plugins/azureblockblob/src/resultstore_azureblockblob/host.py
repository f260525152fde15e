"""The class Celery loads for ``azureblockblob://`` (entry point in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import AzureBlockBlobStore

__all__ = ["AzureBlockBlobBackend"]


class AzureBlockBlobBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.azureblockblob:AzureBlockBlobBackend",
        "celery.backends.base:BaseBackend")):
    """Replaces Celery's ``AzureBlockBlobBackend`` (an instance of it too, with Celery installed)."""

    resultstore_store = AzureBlockBlobStore
    base_path = StoreAttribute("config.base_path")
