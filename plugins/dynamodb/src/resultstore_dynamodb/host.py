"""The Celery host class (entry point ``dynamodb``)."""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import DynamoDBStore

__all__ = ["DynamoDBBackend"]


class DynamoDBBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.dynamodb:DynamoDBBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``dynamodb://...`` URLs (an instance of Celery's class too)."""

    resultstore_store = DynamoDBStore
    #: The boto3 DynamoDB client, as Celery's.
    client = StoreAttribute("client")
    table_name = StoreAttribute("config.table_name")
    aws_region = StoreAttribute("config.region")
    endpoint_url = StoreAttribute("config.endpoint_url")
    read_capacity_units = StoreAttribute("config.read_capacity_units")
    write_capacity_units = StoreAttribute("config.write_capacity_units")
    time_to_live_seconds = StoreAttribute("config.ttl_seconds")
