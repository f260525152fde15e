"""Celery's public ``CosmosDBSQLBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.cosmosdbsql import CosmosDBSQLBackend as CeleryCosmosDBSQLBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_cosmosdbsql.host import CosmosDBSQLBackend


def test_cosmosdbsql_surface(cosmos_url: str, cosmos_settings: dict[str, Any]) -> None:
    app = Celery("surface", set_as_current=False)
    app.conf.update(cosmos_settings, cosmosdbsql_collection_name="surface")
    ours = CosmosDBSQLBackend(app=app, url=cosmos_url)
    theirs = CeleryCosmosDBSQLBackend(app=app, url=cosmos_url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryCosmosDBSQLBackend) and isinstance(ours, BaseBackend)
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        assert ours.decode(ours.get(key))["result"] == 5
    finally:
        ours.backend.close()
