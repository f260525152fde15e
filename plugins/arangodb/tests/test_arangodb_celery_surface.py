"""Celery's public ``ArangoDbBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from celery import Celery
from celery.backends.arangodb import ArangoDbBackend as CeleryArangoDbBackend
from celery.backends.base import BaseBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_arangodb.host import ArangoDbBackend


def test_arangodb_surface(arango_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    url = arango_url + "/surface"
    ours = ArangoDbBackend(app=app, url=url)
    theirs = CeleryArangoDbBackend(app=app, url=url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryArangoDbBackend) and isinstance(ours, BaseBackend)
        for name in ("host", "port", "database", "collection", "username", "password",
                     "http_protocol", "arangodb_url"):
            assert getattr(ours, name) == getattr(theirs, name), name
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        assert ours.db.name == ours.database and ours.expires_delta == theirs.expires_delta
    finally:
        ours.backend.close()
