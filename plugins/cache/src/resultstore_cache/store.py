"""``CacheStore``: memcached through pymemcache, with Celery's keys and values.

Values are the bare serialized metas Celery's ``CacheBackend`` writes (flags 0), under
``celery-task-meta-<id>`` / ``celery-taskset-meta-<id>``; chords count with ``incr`` on
``chord-unlock-<gid>`` (core's :class:`~resultstore.chords.IncrChords`).  Beyond Celery:

* a stored SUCCESS is kept atomically (``gets`` + ``cas``/``add``) instead of read-then-set;
* values over memcached's item size limit raise :class:`BackendStoreError` naming the
  limit (never a silent drop), TTLs over 30 days are sent as absolute times (memcached
  reads them so), and one pooled client is shared by all threads.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from pymemcache.client.base import PooledClient
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import (
    MemcacheIllegalInputError,
    MemcacheServerError,
    MemcacheUnexpectedCloseError,
    MemcacheUnknownError,
)

from resultstore.config import Settings
from resultstore.errors import BackendStoreError, InvalidTaskId
from resultstore.spec import Capability, KeyValueStore
from resultstore.stores.memory import MemoryStore

from .url import CacheConfig

__all__ = ["CacheStore", "MAX_RELATIVE_EXPIRES"]

#: memcached reads a longer expiry as an absolute Unix time.
MAX_RELATIVE_EXPIRES = 30 * 24 * 60 * 60
#: Attempts of the optimistic (``cas``) guarded write before giving up.
CAS_ATTEMPTS = 20


def memcached_expire(ttl: float | None, now: Callable[[], float] = time.time) -> int:
    """Seconds as memcached wants them: whole (rounded up), absolute beyond 30 days, 0 = never."""
    if not ttl:
        return 0
    seconds = max(1, math.ceil(ttl))
    return int(now()) + seconds if seconds > MAX_RELATIVE_EXPIRES else seconds


def make_client(config: CacheConfig) -> PooledClient | HashClient:
    """A thread-safe pooled client (hashing over several servers)."""
    options = {"allow_unicode_keys": True, **config.options}
    if len(config.servers) > 1:
        return HashClient(list(config.servers), use_pooling=True, **options)
    return PooledClient(config.servers[0], **options)


class CacheStore(KeyValueStore):
    """memcached; see the module docstring."""

    capabilities = frozenset({Capability.INCR, Capability.BATCH, Capability.GUARDED_SET})

    def __init__(self, config: CacheConfig) -> None:
        self.config = config
        self.client = make_client(config)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> KeyValueStore:
        """``memcached://h:p;h2:p/``; ``memory://`` gives core's in-process store (as Celery's dummy)."""
        config = CacheConfig.from_url(url, settings)
        if config.scheme == "memory":
            return MemoryStore(f"cache:{';'.join(config.servers)}")
        return cls(config)

    @contextmanager
    def _errors(self, key: str | None = None, size: int | None = None) -> Iterator[None]:
        """Turn pymemcache's input and size errors into resultstore's typed errors."""
        try:
            yield
        except MemcacheIllegalInputError as exc:
            raise InvalidTaskId(f"memcached cannot store key {key!r}: {exc}. Keys must be at "
                                f"most 250 bytes, without whitespace or NUL.") from None
        except MemcacheServerError as exc:
            if "too large" not in str(exc):
                raise
            raise BackendStoreError(
                f"Value of {size} bytes is larger than memcached's item size limit (memcached "
                f"-I, 1 MiB by default); nothing was stored. Raise the limit, store a smaller "
                f"result, or offload large results with a transform hook.") from None

    # -- basic ----------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        with self._errors(key):
            value = self.client.get(key)
        return None if value is None else bytes(value)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        with self._errors(keys[0]):
            found = self.client.get_many(list(keys))
        return [None if (v := found.get(key)) is None else bytes(v) for key in keys]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        with self._errors(key, len(value)):
            stored = self.client.set(key, value, expire=memcached_expire(ttl), noreply=False)
        if not stored:
            raise BackendStoreError(f"memcached did not store {key!r}")

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        if not items:
            return
        with self._errors(next(iter(items)), max(len(v) for v in items.values())):
            failed = self.client.set_many(dict(items), expire=memcached_expire(ttl), noreply=False)
        if failed:
            raise BackendStoreError(f"memcached did not store {len(failed)} keys, e.g. {failed[0]!r}")

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete(key, noreply=False)

    def delete_many(self, keys: Sequence[str]) -> None:
        if keys:
            with self._errors(keys[0]):
                self.client.delete_many(list(keys), noreply=False)

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        """Optimistic concurrency: ``gets``, then ``add`` (absent) or ``cas`` (present)."""
        expire = memcached_expire(ttl)
        with self._errors(key, len(value)):
            for _ in range(CAS_ATTEMPTS):
                current, token = self.client.gets(key)
                if current is None:
                    if self.client.add(key, value, expire=expire, noreply=False):
                        return True
                    continue  # created meanwhile: look again
                if bytes(current).startswith(prefix):
                    return False
                if self.client.cas(key, value, token, expire=expire, noreply=False):
                    return True
        raise BackendStoreError(f"{key!r} kept changing during {CAS_ATTEMPTS} guarded writes")

    def incr(self, key: str, ttl: float | None) -> int:
        """``incr``; a missing counter is created with ``add`` (memcached's incr needs a value)."""
        with self._errors(key):
            for _ in range(CAS_ATTEMPTS):
                value = self.client.incr(key, 1, noreply=False)
                if value is not None:
                    return int(value)
                if self.client.add(key, b"1", expire=memcached_expire(ttl), noreply=False):
                    return 1
        raise BackendStoreError(f"counter {key!r} kept vanishing")

    # -- plumbing -------------------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections and timeouts; never bad keys or oversized values."""
        return isinstance(exc, (MemcacheUnexpectedCloseError, MemcacheUnknownError,
                                ConnectionError, socket.timeout, TimeoutError))

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri()

    def close(self) -> None:
        self.client.close()
