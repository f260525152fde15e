"""The class Celery loads for ``s3://`` (entry point ``s3`` in ``celery.result_backends``)."""

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import S3Store

__all__ = ["S3Backend"]


class S3Backend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.s3:S3Backend", "celery.backends.base:BaseBackend")):
    """Replaces Celery's ``S3Backend`` (an instance of it too, with Celery installed)."""

    resultstore_store = S3Store
    bucket_name = StoreAttribute("config.bucket")
    base_path = StoreAttribute("config.base_path")
    endpoint_url = StoreAttribute("config.endpoint_url")
    aws_region = StoreAttribute("config.region")
    aws_access_key_id = StoreAttribute("config.access_key_id")
    aws_secret_access_key = StoreAttribute("config.secret_access_key")
