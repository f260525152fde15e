"""Celery's public ``CouchbaseBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import celery.backends.couchbase as celery_couchbase
from celery import Celery
from celery.backends.base import BaseBackend
from couchbase_fake.server import DocumentServer

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_couchbase.host import CouchbaseBackend


def test_couchbase_surface(couchbase_url: str, fake: DocumentServer | None) -> None:
    app = Celery("surface", set_as_current=False)
    ours = CouchbaseBackend(app=app, url=couchbase_url)
    theirs = celery_couchbase.CouchbaseBackend(app=app, url=couchbase_url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, celery_couchbase.CouchbaseBackend) and isinstance(ours, BaseBackend)
        for name in ("host", "port", "bucket", "username", "password", "quiet", "timeout",
                     "supports_autoexpire", "task_keyprefix", "group_keyprefix", "chord_keyprefix",
                     "implements_incr"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert ours.key_t(b"k") == theirs.key_t("k") == "k"
        for method in ("get_key_for_task", "get_key_for_group", "get_key_for_chord"):
            assert getattr(ours, method)("x1", "y") == getattr(theirs, method)("x1", "y"), method
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert ours.decode(ours.get(key))["result"] == 5
        assert ours.connection.get(key).value  # the SDK collection, as Celery's ``connection``
    finally:
        ours.backend.close()
