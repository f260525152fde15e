"""Celery host classes (entry points in ``celery.result_backends``).

``redis``/``rediss`` replace ``celery.backends.redis.RedisBackend``, ``sentinel``
replaces ``celery.backends.redis.SentinelBackend``; ``rediscluster`` is new.
"""

from __future__ import annotations

from resultstore.celery import CeleryBackend

from .store import RedisStore

__all__ = ["RedisBackend", "SentinelBackend", "RedisClusterBackend"]


class RedisBackend(CeleryBackend):
    """``redis://`` and ``rediss://`` (and ``redis+socket://``, ``redis+cluster://``)."""

    resultstore_store = RedisStore
    default_url = "redis://"


class SentinelBackend(CeleryBackend):
    """``sentinel://h1:p1;sentinel://h2:p2`` with transport option ``master_name``."""

    resultstore_store = RedisStore
    default_url = "sentinel://"


class RedisClusterBackend(CeleryBackend):
    """``rediscluster://h1:p1;rediscluster://h2:p2`` (Redis Cluster)."""

    resultstore_store = RedisStore
    default_url = "rediscluster://"
