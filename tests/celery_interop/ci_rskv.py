"""Minimal cross-process stores over redis-py, for the interop tests only.

They exercise the host on stores *without* native chords or push:
``PlainRedisStore`` (get/set/delete only: polling + ``celery.chord_unlock``) and
``IncrRedisStore`` (adds INCR/BATCH: chords counted by core's ``IncrChords``).
The real Redis plugin (``resultstore-redis``) is tested separately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import urlsplit

import redis

from resultstore.celery import CeleryBackend
from resultstore.config import Settings
from resultstore.spec import Capability, KeyValueStore


class PlainRedisStore(KeyValueStore):
    """``rskv://host:port/db``: get/set/delete, nothing else."""

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, host: str, port: int, db: int) -> None:
        self.host, self.port, self.db = host, port, db
        self.client = redis.Redis(host=host, port=port, db=db)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> PlainRedisStore:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 6379,
                   int(parts.path.strip("/") or 0))

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.client.set(key, value, ex=math.ceil(ttl) if ttl else None)

    def delete(self, key: str) -> None:
        self.client.delete(key)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, (redis.ConnectionError, redis.TimeoutError))

    def as_uri(self, include_password: bool = False) -> str:
        return f"rskv://{self.host}:{self.port}/{self.db}"

    def close(self) -> None:
        self.client.close()


class IncrRedisStore(PlainRedisStore):
    """Adds INCR and batched reads: chords are counted, not polled."""

    capabilities = frozenset({Capability.INCR, Capability.BATCH})

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return list(self.client.mget(keys)) if keys else []

    def incr(self, key: str, ttl: float | None) -> int:
        with self.client.pipeline() as pipe:
            pipe.incr(key)
            if ttl:
                pipe.expire(key, math.ceil(ttl))
            return int(pipe.execute()[0])


class PlainRedisBackend(CeleryBackend):
    resultstore_store = PlainRedisStore


class IncrRedisBackend(CeleryBackend):
    resultstore_store = IncrRedisStore
