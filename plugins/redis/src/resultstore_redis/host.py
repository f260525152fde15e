"""Celery host classes (entry points in ``celery.result_backends``).

``redis``/``rediss`` replace ``celery.backends.redis.RedisBackend``, ``sentinel``
replaces ``celery.backends.redis.SentinelBackend``; ``rediscluster`` is new.
With Celery installed each is also an instance of the class it replaces; every
public name of Celery's class resolves to the code below or to core's (checked
by ``tests/test_redis_celery_surface.py``).
"""

from __future__ import annotations

from typing import Any

import redis

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, celery_bases

from .store import RedisStore

__all__ = ["RedisBackend", "SentinelBackend", "RedisClusterBackend"]

_ASYNC = ("Celery's asynchronous result consumer (pub/sub draining through vine promises); "
          "resultstore waits with its own shared subscriber (AsyncResult.get, join_native)")


class _RedisSurface(CeleryBackend):
    """The public names of Celery's ``RedisBackend``, on resultstore-redis."""

    resultstore_store = RedisStore
    #: The redis-py module (Celery's ``RedisBackend.redis``).
    redis = redis
    connection_class_ssl = redis.SSLConnection

    ResultConsumer = CeleryDifference(_ASYNC)
    result_consumer = CeleryDifference(_ASYNC)
    add_pending_results = CeleryDifference(_ASYNC)
    on_result_fulfilled = CeleryDifference(_ASYNC)
    ensure = CeleryDifference("retries are core's (result_backend_always_retry, full-jitter "
                              "backoff), not kombu's retry_over_time")
    on_connection_error = CeleryDifference("called only by Celery's ensure()")

    @property
    def store(self) -> RedisStore:
        store = self.backend.store
        assert isinstance(store, RedisStore)
        return store

    @property
    def client(self) -> Any:
        """The redis-py client (``redis.Redis``, or ``RedisCluster``), as Celery's."""
        return self.store.client

    @property
    def connparams(self) -> dict[str, Any]:
        """The connection keyword arguments redis-py gets (host, port, db, password, ssl...)."""
        params = dict(self.store.options.params)
        if self.store.options.max_connections:
            params["max_connections"] = self.store.options.max_connections
        return params

    @property
    def max_connections(self) -> int | None:
        return self.store.options.max_connections

    @property
    def ConnectionPool(self) -> type:  # Celery's name
        return redis.ConnectionPool

    @property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """kombu's Redis connection errors, as Celery's (empty without kombu's redis extra)."""
        return _kombu_redis_errors()[0]

    @property
    def channel_errors(self) -> tuple[type[BaseException], ...]:
        return _kombu_redis_errors()[1]

    @property
    def retry_policy(self) -> dict[str, Any]:  # type: ignore[override]
        """Celery's default updated with the ``retry_policy`` transport option."""
        policy = dict(CeleryBackend.retry_policy)
        policy.update(self.settings.transport_options.get("retry_policy") or {})
        return policy

    def expire(self, key: str | bytes, value: float) -> None:
        """``EXPIRE key value``, as Celery's ``RedisBackend.expire``."""
        self.client.expire(key, int(value))


def _kombu_redis_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    try:
        from kombu.transport.redis import get_redis_error_classes
    except ImportError:  # kombu's redis transport needs celery[redis]; Celery says () too
        return (), ()
    errors = get_redis_error_classes()
    return tuple(errors[0]), tuple(errors[1])


class RedisBackend(_RedisSurface, *celery_bases("celery.backends.redis:RedisBackend",  # type: ignore[misc]
                                                "celery.backends.base:BaseBackend")):
    """``redis://`` and ``rediss://`` (and ``redis+socket://``, ``redis+cluster://``)."""

    default_url = "redis://"


class SentinelBackend(_RedisSurface, *celery_bases("celery.backends.redis:SentinelBackend",  # type: ignore[misc]
                                                   "celery.backends.base:BaseBackend")):
    """``sentinel://h1:p1;sentinel://h2:p2`` with transport option ``master_name``."""

    default_url = "sentinel://"
    #: The redis-py sentinel module (Celery's ``SentinelBackend.sentinel``).
    sentinel = redis.sentinel


class RedisClusterBackend(_RedisSurface, *celery_bases("celery.backends.base:BaseBackend")):  # type: ignore[misc]
    """``rediscluster://h1:p1;rediscluster://h2:p2`` (Redis Cluster)."""

    default_url = "rediscluster://"
