"""Celery's public ``DynamoDBBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.dynamodb import DynamoDBBackend as CeleryDynamoDBBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_dynamodb.host import DynamoDBBackend


def test_dynamodb_surface(dynamodb_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    url = dynamodb_url + "?ttl_seconds=600"
    ours = DynamoDBBackend(app=app, url=url)
    theirs = CeleryDynamoDBBackend(app=app, url=url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryDynamoDBBackend) and isinstance(ours, BaseBackend)
        for name in ("table_name", "aws_region", "endpoint_url", "read_capacity_units",
                     "write_capacity_units", "time_to_live_seconds"):
            assert getattr(ours, name) == getattr(theirs, name), name
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        assert ours.client.describe_table(TableName=ours.table_name)["Table"]["TableName"]
    finally:
        ours.backend.close()
