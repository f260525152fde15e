"""Celery 5.7 has no Riak class: ours is an instance of Celery's ``KeyValueStoreBackend`` (what
Celery 4's ``RiakBackend`` was) and answers every public name of it with Celery's meaning."""

from __future__ import annotations

from celery import Celery
from celery.backends.base import BaseBackend, KeyValueStoreBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_riak.host import RiakBackend


def test_riak_surface(riak_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    ours = RiakBackend(app=app, url=riak_url)
    theirs = KeyValueStoreBackend(app=app)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, KeyValueStoreBackend) and isinstance(ours, BaseBackend)
        # Celery's raw key/value API on the bucket: a stored result under Celery's key
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert ours.decode(ours.get(key))["result"] == 5
        assert ours.mget([key, ours.get_key_for_task("absent")])[1] is None
        ours.set(ours.get_key_for_task("surface-2"), ours.encode({"status": "SUCCESS", "result": 7}))
        assert ours.get_task_meta("surface-2")["result"] == 7
        ours.delete(key)
        assert ours.get(key) is None
    finally:
        ours.backend.close()
