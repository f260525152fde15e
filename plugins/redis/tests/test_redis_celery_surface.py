"""Celery's public ``RedisBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery
from celery.backends.base import Backend, BaseBackend
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.backends.redis import SentinelBackend as CelerySentinelBackend
from redis_servers import Deployment

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_redis.host import RedisBackend, RedisClusterBackend, SentinelBackend

README = Path(__file__).parents[1] / "README.md"


def _app(**conf: object) -> Celery:
    app = Celery("surface", set_as_current=False)
    app.conf.update(conf)
    return app


def test_redis_surface(redis_plain: Deployment) -> None:
    app = _app(result_backend_transport_options={"global_keyprefix": "pfx"})
    ours = RedisBackend(app=app, url=redis_plain.url)
    theirs = CeleryRedisBackend(app=app, url=redis_plain.url)
    check_celery_surface(ours, theirs, README)
    assert isinstance(ours, CeleryRedisBackend) and isinstance(ours, BaseBackend)
    # the names people use, side by side with Celery's on the same server
    for name in ("task_keyprefix", "group_keyprefix", "chord_keyprefix", "implements_incr",
                 "supports_native_join", "supports_autoexpire", "persistent", "expires",
                 "chord_expires", "retry_policy", "connection_errors", "channel_errors",
                 "max_connections", "content_encoding", "compression", "failure_expires",
                 "always_retry", "base_sleep_between_retries_ms", "max_sleep_between_retries_ms"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.get_key_for_task("t", "x") == theirs.get_key_for_task("t", "x")
    assert ours.get_key_for_group("g") == theirs.get_key_for_group("g")
    assert ours.get_key_for_chord("g") == theirs.get_key_for_chord("g")
    with pytest.raises(ValueError, match="task_id must not be empty"):
        ours.get_key_for_task("")
    assert {k: ours.connparams[k] for k in ("host", "port", "db")} == {
        k: theirs.connparams[k] for k in ("host", "port", "db")}
    ours.store_result("surface-1", {"n": 1}, "SUCCESS")
    key = ours.get_key_for_task("surface-1")
    assert theirs.client.get(key) == ours.client.get(key) == ours.get(key)
    assert ours.mget([key]) == theirs.mget([key])
    ours.set(b"pfx_plain", b"v")
    assert theirs.get(b"pfx_plain") == b"v" and ours.client.ttl(b"pfx_plain") > 0
    assert ours.incr(b"pfx_counter") == 1 and theirs.incr(b"pfx_counter") == 2
    ours.expire(b"pfx_counter", 100)
    assert 0 < theirs.client.ttl(b"pfx_counter") <= 100
    ours.delete(b"pfx_plain")
    assert theirs.get(b"pfx_plain") is None
    assert ours.prepare_expires(None) == theirs.prepare_expires(None)
    assert ours.prepare_persistent(None) == theirs.prepare_persistent(None)
    with pytest.raises(AttributeError, match="asynchronous result consumer"):
        ours.result_consumer  # noqa: B018 - the access is the test
    assert not hasattr(ours, "ensure")


def test_sentinel_surface(redis_plain: Deployment) -> None:
    app = _app(result_backend_transport_options={"master_name": "mymaster"})
    url = redis_plain.url.replace("redis://", "sentinel://")
    ours = SentinelBackend(app=app, url=url)
    check_celery_surface(ours, CelerySentinelBackend(app=app, url=url), README)
    assert isinstance(ours, CelerySentinelBackend)


def test_cluster_class_is_a_celery_backend() -> None:
    assert issubclass(RedisClusterBackend, BaseBackend) and issubclass(RedisClusterBackend, Backend)
    assert not issubclass(RedisClusterBackend, CeleryRedisBackend)
