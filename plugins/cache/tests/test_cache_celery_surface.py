"""Celery's public ``CacheBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.cache import CacheBackend as CeleryCacheBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_cache.host import CacheBackend


def test_cache_surface(memcached_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    ours = CacheBackend(app=app, url=memcached_url)
    theirs = CeleryCacheBackend(app=app, url=memcached_url)
    check_celery_surface(ours, theirs, Path(__file__).parents[1] / "README.md")
    assert isinstance(ours, CeleryCacheBackend) and isinstance(ours, BaseBackend)
    assert ours.servers == theirs.servers
    assert ours.implements_incr is theirs.implements_incr is True  # chords counted with incr
    ours.store_result("surface-1", 3, "SUCCESS")
    key = ours.get_key_for_task("surface-1")
    assert theirs.decode(ours.client.get(key))["result"] == 3
    assert ours.get(key) == ours.client.get(key)
    ours.set(b"celery-task-meta-surface-2", ours.encode({"status": "SUCCESS", "result": 4}))
    assert theirs.get_task_meta("surface-2")["result"] == 4
    assert ours.incr(b"surface-counter") == 1 and ours.incr(b"surface-counter") == 2
    ours.delete(key)
    assert ours.get(key) is None
