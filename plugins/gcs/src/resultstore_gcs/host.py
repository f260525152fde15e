"""The class Celery loads for ``gs://`` (entry point ``gs`` in ``celery.result_backends``)."""

from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, StoreAttribute, celery_bases

from .store import GCSStore

__all__ = ["GCSBackend"]


class GCSBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.gcs:GCSBackend", "celery.backends.base:BaseBackend")):
    """Replaces Celery's ``GCSBackend`` (an instance of it too, with Celery installed)."""

    resultstore_store = GCSStore
    #: The google-cloud-storage client, as Celery's.
    client = StoreAttribute("client")
    bucket_name = StoreAttribute("config.bucket")
    project = StoreAttribute("config.project")
    base_path = StoreAttribute("config.base_path")
    ttl = StoreAttribute("config.ttl")
    firestore_client = CeleryDifference(
        "Celery keeps chord counters in Firestore; resultstore counts chord parts in the "
        "bucket itself (conditional writes), so no Firestore client exists")

    @property
    def bucket(self) -> Any:
        """The ``google.cloud.storage.Bucket`` results live in, as Celery's."""
        store = self.backend.store
        assert isinstance(store, GCSStore)
        return store.client.bucket(store.config.bucket)
