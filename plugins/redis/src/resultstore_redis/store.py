"""``RedisStore``: Celery 5.7's Redis wire format with every store capability.

* ``set`` is ``SET key value EX ttl`` + ``PUBLISH key value`` in one pipelined
  round trip; ``set_unless_prefix`` (how core stores a task result) does the
  same atomically in one ``EVALSHA`` and keeps a stored SUCCESS.
* ``mget`` is one ``MGET`` (split by slot on Redis Cluster).
* Chords use Celery 5.7's keys and Lua protocol (see :mod:`.scripts`).
* One pub/sub connection per subscriber, see :mod:`.subscriber`.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.cluster
import redis.exceptions

from resultstore.config import Settings
from resultstore.errors import BackendStoreError, ChordClaimLost, ImproperlyConfigured
from resultstore.spec import (
    AsyncKeyValueStore,
    Capability,
    ChordProgress,
    KeyValueStore,
    MessageHandler,
)

from .clients import retry_errors, sync_client
from .config import RedisOptions, parse_options
from .direct import DirectConnections
from .scripts import (
    CHORD_CLAIM_EXTEND,
    CHORD_CLEANUP,
    CHORD_FORCE_CLEANUP,
    CHORD_PART_RETURN,
    GUARDED_SET,
    STORE,
    Script,
)
from .subscriber import RedisSubscriber
from .wrongtype import is_wrong_type, raise_wrong_type

__all__ = ["RedisStore", "UntaggedClusterStore", "ChordClaimLost", "MAX_VALUE_SIZE"]

log = logging.getLogger(__name__)

#: Largest string value Redis stores (``proto-max-bulk-len``), as Celery.
MAX_VALUE_SIZE = 512 * 1024 * 1024
#: How many claim tokens / claimed part lists a store remembers between calls.
_MEMORY = 4096
_MGET_CHUNK = 10000
#: Batches up to this size send ``EXISTS`` with ``MGET`` (see :mod:`.wrongtype`).
_EXISTS_WITH_MGET = 64

#: Errors after which retrying the same command is safe (the server was unreachable,
#: restarting, loading, or failing over).  Wrong credentials are never transient.
_TRANSIENT: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ReadOnlyError,
)
_NEVER_TRANSIENT: tuple[type[BaseException], ...] = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.AuthenticationWrongNumberOfArgsError,
)


@dataclass(frozen=True)
class _ChordKeys:
    j: str
    t: str
    s: str
    d: str
    g: str
    c: str


def _ex(ttl: float | None) -> int:
    """Whole seconds for EXPIRE/EX (0: no expiry); never rounds a TTL down to 0."""
    return max(1, math.ceil(ttl)) if ttl else 0


def _px(ttl: float | None) -> int:
    return max(1, round(ttl * 1000)) if ttl else 0


def _check_size(key: str, value: bytes) -> None:
    if len(value) > MAX_VALUE_SIZE:
        raise BackendStoreError(f"value of {key!r} is {len(value)} bytes; Redis stores at most "
                                f"{MAX_VALUE_SIZE} (512 MiB)")


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class _Recent(OrderedDict[str, Any]):
    """A small bounded map (oldest entries dropped)."""

    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _MEMORY:
            self.popitem(last=False)


class RedisStore(KeyValueStore):
    """Redis, Redis Sentinel or Redis Cluster, wire-compatible with Celery 5.7."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        "ssl_ca_certs (the CA that signed the server's certificate), ssl_certfile/"
        'ssl_keyfile and ssl_cert_reqs, in the rediss:// URL query or in redis_backend_use_ssl')

    capabilities = frozenset({
        Capability.INCR, Capability.BATCH, Capability.CHORD, Capability.SUBSCRIBE,
        Capability.SCAN, Capability.AIO, Capability.GUARDED_SET, Capability.TTL,
    })

    def __init__(self, options: RedisOptions, *, expires: float | None = 86400,
                 claim_expires: int = 6, publish_claim_expires: int = 12) -> None:
        self.options = options
        self.cluster = options.kind == "cluster"
        self.hash_tags = self.cluster and options.cluster_hash_tags
        if self.cluster and not self.hash_tags and Capability.CHORD in self.capabilities:
            raise ImproperlyConfigured(
                "Celery's chord keys of one chord live in different cluster slots: use "
                "RedisStore.from_url (it counts chord parts with INCR there) or the transport "
                "option cluster_hash_tags=True.")
        self._client: Any = None
        self._client_lock = threading.Lock()
        self.expires = expires
        self.claim_expires = int(claim_expires)
        self.publish_claim_expires = max(int(publish_claim_expires), self.claim_expires)
        self.done_expires = int(max(self.claim_expires * 2, 300))
        self._transient = _TRANSIENT + options.extra_errors
        self._lock = threading.Lock()
        self._retry_tokens = _Recent()
        self._claims = _Recent()
        self._claimed_parts = _Recent()
        self._subscribers: weakref.WeakSet[RedisSubscriber] = weakref.WeakSet()
        self._direct: DirectConnections | None = None
        if not self.cluster and not options.max_connections:
            self._direct = DirectConnections(self._new_connection, options.retries,
                                             retry_errors(options))

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RedisStore:
        """Open a store for ``redis://``, ``rediss://``, ``socket://``, ``sentinel://`` or
        ``rediscluster://`` with Celery's ``redis_*`` and ``result_*`` settings."""
        settings = settings if settings is not None else Settings()
        join_timeout = float(settings.get("result_chord_join_timeout") or 5.0)
        claim_expires = max(5, int(join_timeout * 2))
        options = parse_options(url, settings)
        store_cls = cls
        if options.kind == "cluster" and not options.cluster_hash_tags:
            store_cls = UntaggedClusterStore
        return store_cls(options, expires=settings.expires,
                   claim_expires=claim_expires,
                   publish_claim_expires=_publish_claim_expires(claim_expires, settings))

    # -- basic ----------------------------------------------------------------------
    # -- transport: the direct per-thread connection, or redis-py's client ------------
    @property
    def client(self) -> Any:
        """The redis-py client, opened on first use (a cluster client connects when built,
        and a Celery app must start even while Redis is down)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = sync_client(self.options)
        return self._client

    def _new_connection(self) -> Any:
        pool = self.client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)

    def _execute(self, *command: Any) -> Any:
        if self._direct is not None:
            return self._direct.execute(*command)
        return self.client.execute_command(*command)

    def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Several commands in one round trip (not a transaction)."""
        if self._direct is not None:
            return self._direct.pipeline(commands)
        with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())

    def _script(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._direct is not None:
            return script.run(self._direct.execute, keys, args)
        return script(self.client, keys, args)

    # -- basic ----------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = self._execute("GET", key)
        except redis.exceptions.ResponseError as exc:
            if is_wrong_type(exc):
                raise_wrong_type([key], self._types)
            raise
        return value

    def _types(self, keys: list[str]) -> list[Any]:
        if self.cluster:
            return [self.client.type(key) for key in keys]
        return self._pipeline([("TYPE", key) for key in keys])

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values of ``keys``; ``CorruptResultError`` for a non-string key.

        One round trip when every key has a value; nil answers are checked with
        ``EXISTS`` (see :mod:`.wrongtype`).
        """
        keys = list(keys)
        if not keys:
            return []
        existing: int | None = None
        if self.cluster:
            values = list(self.client.mget_nonatomic(keys))
        elif len(keys) <= _EXISTS_WITH_MGET:  # a wait's read: one round trip, pending or not
            values, existing = self._pipeline([("MGET", *keys), ("EXISTS", *keys)])
            values = list(values)
        else:
            values = [value for chunk in self._pipeline(self._chunked("MGET", keys)) for value in chunk]
        missing = [k for k, v in zip(keys, values, strict=True) if v is None]
        if existing is not None:
            if int(existing) > len(keys) - len(missing):
                raise_wrong_type(missing, self._types)
        elif missing and self._exists(missing):
            raise_wrong_type(missing, self._types)
        return values

    def _chunked(self, command: str, keys: list[str]) -> list[tuple[Any, ...]]:
        return [(command, *keys[i:i + _MGET_CHUNK]) for i in range(0, len(keys), _MGET_CHUNK)]

    def _exists(self, keys: list[str]) -> int:
        if self.cluster:
            return int(self.client.exists(*keys))
        return sum(int(n) for n in self._pipeline(self._chunked("EXISTS", keys)))

    @staticmethod
    def _set_commands(key: str, value: bytes, ttl: float | None) -> list[tuple[Any, ...]]:
        """``SET`` (``EX`` as Celery's ``SETEX``, ``PX`` for fractions) + ``PUBLISH``."""
        if ttl and float(ttl).is_integer():
            store: tuple[Any, ...] = ("SET", key, value, "EX", int(ttl))
        elif ttl:
            store = ("SET", key, value, "PX", _px(ttl))
        else:
            store = ("SET", key, value)
        return [store, ("PUBLISH", key, value)]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        _check_size(key, value)
        if self.cluster:
            STORE(self.client, [key], [value, _px(ttl)])
            return
        self._pipeline(self._set_commands(key, value, ttl))

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        _check_size(key, value)
        return bool(self._script(GUARDED_SET, [key], [value, _px(ttl), prefix]))

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        for key, value in items.items():
            _check_size(key, value)
        if not items:
            return
        if self.cluster:
            for key, value in items.items():
                STORE(self.client, [key], [value, _px(ttl)])
            return
        self._pipeline([command for key, value in items.items()
                        for command in self._set_commands(key, value, ttl)])

    def delete(self, key: str) -> None:
        self._execute("DEL", key)

    def delete_many(self, keys: Sequence[str]) -> None:
        if keys:
            self.client.delete(*keys)

    def incr(self, key: str, ttl: float | None) -> int:
        commands: list[tuple[Any, ...]] = [("INCR", key)]
        if ttl:
            commands.append(("EXPIRE", key, _ex(ttl)))
        return int(self._pipeline(commands)[0])

    def scan(self, prefix: str) -> Iterator[str]:
        for key in self.client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            yield key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)

    def ttls(self, keys: Sequence[str]) -> list[float | None]:
        """Remaining lives (``PTTL``, one round trip; per key on a cluster)."""
        keys = list(keys)
        if self.cluster:
            found = [self.client.pttl(key) for key in keys]
        else:
            found = self._pipeline([("PTTL", key) for key in keys]) if keys else []
        return [int(ms) / 1000 if int(ms) > 0 else None for ms in found]

    # -- chords (Celery 5.7 protocol) ----------------------------------------------------
    def _chord_keys(self, group_key: str) -> _ChordKeys:
        base = f"{{{group_key}}}" if self.hash_tags else group_key
        return _ChordKeys(j=base + ".j", t=base + ".t", s=base + ".s", d=base + ".d", g=base,
                          c=base + ".c")

    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        keys = self._chord_keys(group_key)
        store: tuple[Any, ...] = ("SET", keys.s, int(size))
        if ttl:
            store += ("EX", _ex(ttl))
        self._pipeline([("DEL", keys.c), store])

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        keys = self._chord_keys(group_key)
        # A fresh claim token per call (as Celery), except that a retry of a call that
        # failed (lost reply) or whose parts were not read yet reuses its token: the
        # script then reports the claim it already holds instead of losing the chord.
        retry_key = f"{threading.get_ident()}\0{group_key}\0{member}"
        with self._lock:
            token = self._retry_tokens.pop(retry_key, None) or uuid.uuid4().hex
        chord_expires = _ex(ttl)
        group_expires = 0
        if chord_expires and self.expires and not self.hash_tags:
            group_expires = max(chord_expires, _ex(self.expires))
        try:
            reply = self._script(
                CHORD_PART_RETURN, [keys.j, keys.t, keys.s, keys.d, keys.g, keys.c],
                [member, value, "1" if self.options.chord_ordered else "0",
                 "+inf" if index is None else int(index), chord_expires, group_expires,
                 self.claim_expires, token])
        except BaseException:
            with self._lock:
                self._retry_tokens.remember(retry_key, token)
            raise
        readycount, diff, size, claimed = reply[:4]
        if int(readycount) == -1:  # the chord was already dispatched: a late duplicate
            return ChordProgress(0, None, False)
        total = None if size is None else int(size) + int(diff or 0)
        complete = bool(int(claimed))
        if complete:
            with self._lock:
                self._retry_tokens.remember(retry_key, token)
                self._claims.remember(group_key, (token, retry_key))
                self._claimed_parts.remember(group_key, list(reply[4]))
        return ChordProgress(int(readycount), total, complete)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        keys = self._chord_keys(group_key)
        commands: list[tuple[Any, ...]] = [("INCRBY", keys.t, int(by))]
        if ttl:
            commands.append(("EXPIRE", keys.t, _ex(ttl)))
        self._pipeline(commands)

    def chord_parts(self, group_key: str) -> list[bytes]:
        """The parts in order; extends this store's claim to cover dispatching the body."""
        keys = self._chord_keys(group_key)
        with self._lock:
            parts = self._claimed_parts.pop(group_key, None)
            token, retry_key = self._claims.get(group_key, (None, None))
        if parts is None:
            if self.options.chord_ordered:
                parts = self._execute("ZRANGE", keys.j, 0, -1)
            else:
                parts = self._execute("LRANGE", keys.j, 0, -1)
        if token is not None:
            extended = self._script(CHORD_CLAIM_EXTEND, [keys.c, keys.s],
                                    [token, self.publish_claim_expires])
            if not int(extended):
                with self._lock:
                    self._claims.pop(group_key, None)
                raise ChordClaimLost(
                    f"Chord {group_key}: the dispatch claim expired and is owned elsewhere; "
                    f"its body is not dispatched by this worker.")
        with self._lock:  # the claiming call is complete: a later duplicate is not a retry
            self._retry_tokens.pop(retry_key, None)
        return list(parts)

    def chord_clear(self, group_key: str) -> None:
        """Drop the chord data and mark it done (late duplicates are then ignored)."""
        keys = self._chord_keys(group_key)
        with self._lock:
            token, retry_key = self._claims.pop(group_key, (None, None))
            self._claimed_parts.pop(group_key, None)
            self._retry_tokens.pop(retry_key, None)
        targets = [keys.c, keys.j, keys.t, keys.s, keys.d]
        if token is None:
            self._script(CHORD_FORCE_CLEANUP, targets, [self.done_expires])
        elif not int(self._script(CHORD_CLEANUP, targets, [token, self.done_expires])):
            log.warning("Chord %s: dispatch claim was lost before cleanup; chord data was "
                        "left for expiry", group_key)

    # -- push, asyncio, errors ----------------------------------------------------------
    def _pubsub_connection(self) -> Any:
        if self.cluster:
            node = self.client.get_random_node()
            pool = node.redis_connection.connection_pool
        else:
            pool = self.client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["protocol"] = 2
        kwargs.pop("health_check_interval", None)
        if "maint_notifications_config" in kwargs:
            # redis-py 8 refuses maintenance notifications on a RESP2 connection without hiredis.
            kwargs["maint_notifications_config"] = None
        return pool.connection_class(**kwargs)

    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> RedisSubscriber:
        """One pub/sub connection and reader thread shared by all waiters it serves."""
        idle = float(self.options.params.get("health_check_interval") or 30)
        subscriber = RedisSubscriber(self._pubsub_connection, on_message, on_reconnect,
                                     idle_ping=idle, where=self.as_uri())
        self._subscribers.add(subscriber)
        return subscriber

    def aio(self) -> AsyncKeyValueStore:
        from .aio import AsyncRedisStore

        return AsyncRedisStore(self)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Connection and timeout errors (and ``additional_connection_errors``) are transient."""
        if isinstance(exc, _NEVER_TRANSIENT):
            return False
        if isinstance(exc, redis.exceptions.RedisClusterException):  # no node reachable yet
            return isinstance(exc.__cause__, self._transient)
        return isinstance(exc, self._transient)

    def as_uri(self, include_password: bool = False) -> str:
        """The URL, password masked as ``**`` unless ``include_password``."""
        options = self.options
        url = options.url if include_password else options.masked_url
        if "://" in url and url.split("://", 1)[1].strip("/"):
            return url
        params = options.params  # bare "redis://": show what the settings chose
        auth = ""
        if params.get("password"):
            secret = params["password"] if include_password else "**"
            auth = f"{params.get('username') or ''}:{secret}@"
        scheme = url.split("://", 1)[0] if "://" in url else "redis"
        host = params.get("host", "localhost")
        return f"{scheme}://{auth}{host}:{params.get('port', 6379)}/{params.get('db', 0)}"

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        if self._direct is not None:
            self._direct.close()
        if self._client is None:
            return
        if self.cluster:
            self.client.close()
        else:
            self.client.connection_pool.disconnect()
            manager = getattr(self.client.connection_pool, "sentinel_manager", None)
            for sentinel in getattr(manager, "sentinels", ()):
                sentinel.close()


class UntaggedClusterStore(RedisStore):
    """Redis Cluster with Celery's key names: one chord's keys hash to different slots,
    so chord parts are counted with core's INCR accounting instead of the Lua protocol
    (set the transport option ``cluster_hash_tags`` for native chords)."""

    capabilities = RedisStore.capabilities - {Capability.CHORD}


def _publish_claim_expires(claim_expires: int, settings: Mapping[str, Any]) -> int:
    """Lease for dispatching a chord body, as Celery's ``_chord_publish_claim_expires``."""
    timeout = settings.get("broker_connection_timeout")
    if timeout is None:
        return claim_expires * 2
    policy = dict(settings.get("task_publish_retry_policy") or {})
    retry = settings.get("task_publish_retry", True)
    retries = max(0, int(policy.get("max_retries", 3) or 0)) if retry else 0
    timeout = max(0.0, float(timeout))
    start = float(policy.get("interval_start", 0))
    step = float(policy.get("interval_step", 0.2))
    maximum = float(policy.get("interval_max", 1))
    waits = sum(min(start + step * n, maximum) for n in range(retries))
    return max(claim_expires, math.ceil((retries + 1) * timeout + waits + max(timeout, 1)))
