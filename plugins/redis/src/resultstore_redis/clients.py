"""Open redis-py clients (sync and ``redis.asyncio``) for :class:`RedisOptions`.

hiredis is used by redis-py automatically when it is installed.
"""

from __future__ import annotations

import inspect
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.backoff
import redis.cluster
import redis.connection
import redis.exceptions
import redis.retry
import redis.sentinel

from .config import RedisOptions

__all__ = ["sync_client", "async_client", "connection_kwargs", "driver_info", "retry_errors"]


#: Connections per event loop when ``redis_max_connections`` is not set.
ASYNC_POOL_SIZE = 50


class SentinelManagedSSLConnection(redis.sentinel.SentinelManagedConnection,
                                   redis.connection.SSLConnection):
    """A Sentinel-discovered master reached over TLS (as Celery's class of that name)."""


class AsyncSentinelManagedSSLConnection(redis.asyncio.sentinel.SentinelManagedConnection,
                                        redis.asyncio.connection.SSLConnection):
    """The asyncio twin of :class:`SentinelManagedSSLConnection`."""


def driver_info() -> Any:
    """``CLIENT SETINFO`` lib name ``redis-py(resultstore_v<version>)`` where supported."""
    try:
        from importlib.metadata import version

        from redis import DriverInfo
    except ImportError:  # redis-py < 7
        return None
    try:
        ours = version("resultstore-redis")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        ours = "0"
    return DriverInfo().add_upstream_driver("resultstore", ours)


def _backoff(options: RedisOptions) -> redis.backoff.AbstractBackoff:
    if options.retry_backoff_cap <= 0:
        return redis.backoff.NoBackoff()
    return redis.backoff.ExponentialWithJitterBackoff(
        base=min(0.01, options.retry_backoff_cap), cap=options.retry_backoff_cap)


def retry_errors(options: RedisOptions) -> tuple[type[redis.exceptions.RedisError], ...]:
    """Errors after which one command is retried on a fresh connection."""
    errors: tuple[type[redis.exceptions.RedisError], ...] = (redis.exceptions.ConnectionError,)
    if options.params.get("retry_on_timeout"):
        errors += (redis.exceptions.TimeoutError,)
    return errors


def connection_kwargs(options: RedisOptions, *, asyncio: bool = False) -> dict[str, Any]:
    """Keyword arguments for one connection (the pool's ``connection_kwargs``).

    redis-py retries each command ``options.retries`` times (default once: a
    pooled connection the server closed meanwhile); timeouts only with
    ``redis_retry_on_timeout``.  Longer outages are core's job
    (``result_backend_always_retry``).
    """
    kwargs = dict(options.params)
    kwargs.pop("retry_on_timeout", None)
    retry_cls = redis.asyncio.retry.Retry if asyncio else redis.retry.Retry
    kwargs["retry"] = retry_cls(_backoff(options), options.retries,
                                supported_errors=retry_errors(options))
    info = driver_info()
    if info is not None:
        kwargs["driver_info"] = info
    if options.unix_path is not None:
        kwargs["path"] = options.unix_path
    return kwargs


def _connection_class(options: RedisOptions, *, asyncio: bool) -> type:
    if asyncio:
        if options.unix_path is not None:
            return redis.asyncio.connection.UnixDomainSocketConnection
        if options.kind == "sentinel":
            return (AsyncSentinelManagedSSLConnection if options.ssl
                    else redis.asyncio.sentinel.SentinelManagedConnection)
        return redis.asyncio.connection.SSLConnection if options.ssl else redis.asyncio.connection.Connection
    if options.unix_path is not None:
        return redis.connection.UnixDomainSocketConnection
    if options.kind == "sentinel":
        return SentinelManagedSSLConnection if options.ssl else redis.sentinel.SentinelManagedConnection
    return redis.connection.SSLConnection if options.ssl else redis.connection.Connection


def _pool_limits(options: RedisOptions) -> dict[str, Any]:
    return {"max_connections": options.max_connections} if options.max_connections else {}


def sync_client(options: RedisOptions) -> Any:
    """A thread-safe sync client (pooled) for the deployment."""
    kwargs = connection_kwargs(options)
    if options.kind == "cluster":
        node: Any = redis.cluster.ClusterNode  # untyped in redis-py
        nodes = [node(host, port) for host, port in options.hosts]
        return redis.cluster.RedisCluster(startup_nodes=nodes, ssl=options.ssl, **kwargs,
                                          **_pool_limits(options))
    if options.kind == "sentinel":
        assert options.master_name is not None  # checked by parse_options
        sentinel_cls: Any = redis.sentinel.Sentinel  # untyped in redis-py
        sentinel = sentinel_cls(
            options.hosts, min_other_sentinels=options.min_other_sentinels,
            sentinel_kwargs=options.sentinel_kwargs or None, **kwargs, **_pool_limits(options))
        return sentinel.master_for(options.master_name, redis_class=redis.Redis,
                                   connection_class=_connection_class(options, asyncio=False))
    pool = redis.ConnectionPool(connection_class=_connection_class(options, asyncio=False),
                                **kwargs, **_pool_limits(options))
    return redis.Redis(connection_pool=pool)


def async_client(options: RedisOptions) -> Any:
    """A ``redis.asyncio`` client for the deployment (bind it to one event loop)."""
    kwargs = connection_kwargs(options, asyncio=True)
    if options.kind == "cluster":
        nodes = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in options.hosts]
        accepted = inspect.signature(redis.asyncio.cluster.RedisCluster.__init__).parameters
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, ssl=options.ssl, **kwargs,
                                                  **_pool_limits(options))
    if options.kind == "sentinel":
        async_sentinel_cls: Any = redis.asyncio.sentinel.Sentinel  # untyped in redis-py
        sentinel = async_sentinel_cls(
            options.hosts, min_other_sentinels=options.min_other_sentinels,
            sentinel_kwargs=options.sentinel_kwargs or None, **kwargs, **_pool_limits(options))
        return sentinel.master_for(options.master_name, redis_class=redis.asyncio.Redis,
                                   connection_class=_connection_class(options, asyncio=True))
    # Blocking pool: many concurrent coroutines queue for a connection instead of failing
    # with MaxConnectionsError past redis-py's default of 100.
    pool = redis.asyncio.BlockingConnectionPool(
        connection_class=_connection_class(options, asyncio=True), **kwargs,
        max_connections=options.max_connections or ASYNC_POOL_SIZE)
    return redis.asyncio.Redis(connection_pool=pool)
