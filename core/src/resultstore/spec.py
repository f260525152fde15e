"""What a storage plugin implements: :class:`KeyValueStore` or :class:`MetaStore`.

A plugin writes one small class.  Everything else (states, encoding, retries,
caching, groups, chords, waiting, hosts) lives in core and is shared.

Minimal key/value store::

    class DictStore(KeyValueStore):
        capabilities = frozenset()

        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}

        @classmethod
        def from_url(cls, url: str, settings: Settings) -> "DictStore":
            return cls()

        def get(self, key):            return self.data.get(key)
        def set(self, key, value, ttl): self.data[key] = value
        def delete(self, key):         self.data.pop(key, None)

Optional capabilities are declared in :attr:`KeyValueStore.capabilities` and the
matching methods implemented; core never calls a method whose capability is not
declared, and supplies a correct fallback instead (batched reads become a loop,
chords use ``incr`` or polling, waiting polls instead of subscribing).
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .errors import NotSupported
from .tls import GENERIC_CERTIFICATE_SETTINGS

if TYPE_CHECKING:
    from .codec import Codec
    from .config import Settings

__all__ = [
    "Capability", "ChordProgress", "KeyValueStore", "AsyncKeyValueStore", "MetaStore",
    "Subscriber", "MessageHandler", "MetaMessageHandler", "ThreadedAsyncStore", "AsyncMetaStore",
    "Store",
]


class Capability(str, enum.Enum):
    """Optional abilities a store declares."""

    #: ``incr(key, ttl) -> int``: atomic counter.
    INCR = "incr"
    #: ``set_many`` / ``delete_many`` in one round trip, and a native ``mget``.
    BATCH = "batch"
    #: ``chord_set_size`` / ``chord_add`` / ``chord_parts`` / ``chord_clear``: atomic
    #: "record part and count" with exactly-once completion.
    CHORD = "chord_add"
    #: ``subscriber(on_message, on_reconnect)``: push notification of new values.
    SUBSCRIBE = "subscribe"
    #: ``scan(prefix)``: iterate keys, for listing and cleanup (record stores:
    #: ``scan_ids(kind)``, the ids of stored task metas or saved groups).
    SCAN = "scan"
    #: ``ttls(keys)``: remaining seconds to live of keys, in one round trip (``resultstore
    #: migrate`` keeps them; without it, the destination's own expiry settings apply).
    TTL = "ttl"
    #: ``aio()``: a native asyncio twin of the store.
    AIO = "aio"
    #: ``cleanup()``: the store deletes expired entries itself when asked (no native TTL).
    CLEANUP = "cleanup"
    #: ``set_unless_prefix``: write unless the stored value starts with a prefix, atomically
    #: and in one round trip (keeps a stored SUCCESS without a separate read).
    GUARDED_SET = "guarded_set"


@dataclass(frozen=True)
class ChordProgress:
    """What :meth:`KeyValueStore.chord_add` reports after recording one part."""

    #: Distinct parts recorded so far (a duplicate part is not counted twice).
    count: int
    #: Expected number of parts (size plus ``add_to_chord`` growth), ``None`` if unknown yet.
    size: int | None
    #: True for exactly one caller: the one whose part completed the chord.
    complete: bool


#: Called by a subscriber with ``(key, value)`` for each new value.
MessageHandler = Callable[[str, bytes], None]
#: Called by a :class:`MetaStore` subscriber with ``(task_id, meta)`` for each new meta
#: (the meta as :meth:`MetaStore.get_meta` returns it).
MetaMessageHandler = Callable[[str, "dict[str, Any]"], None]


class Subscriber(Protocol):
    """A push channel shared by every waiter of one backend.

    Messages arrive on a thread owned by the subscriber and are handed to the
    ``on_message`` callback; after a reconnect the store calls ``on_reconnect``
    so core re-reads every key still waited on (nothing is missed).
    """

    def subscribe(self, key: str) -> None:
        """Start delivering new values of ``key``."""

    def unsubscribe(self, key: str) -> None:
        """Stop delivering values of ``key``."""

    def close(self) -> None:
        """Stop the delivery thread and release the connection."""


class KeyValueStore(abc.ABC):
    """A byte store addressed by string keys; the shape of most Celery backends.

    Values are opaque bytes produced by core.  ``ttl`` is seconds (``None`` or
    ``0``: keep forever).  ``set`` of a task key must make the value visible to
    subscribers (Redis publishes it on a channel named like the key).
    """

    #: Abilities beyond get/mget/set/delete, see :class:`Capability`.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: The settings to check when the server's TLS certificate does not verify (named in
    #: the error; such failures are never retried: see :mod:`resultstore.tls`).
    certificate_settings: ClassVar[str] = GENERIC_CERTIFICATE_SETTINGS

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, settings: Settings) -> KeyValueStore:
        """Build a store from a URL and Celery-named settings; raise ImproperlyConfigured."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes | None:
        """Return the value of ``key`` or ``None`` when absent or expired."""

    @abc.abstractmethod
    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` under ``key``, expiring after ``ttl`` seconds when given."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the values of ``keys`` in order (one round trip with BATCH)."""
        return [self.get(key) for key in keys]

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Store several values (one round trip with BATCH)."""
        for key, value in items.items():
            self.set(key, value, ttl)

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove several keys (one round trip with BATCH)."""
        for key in keys:
            self.delete(key)

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        """Store unless the current value starts with ``prefix``; True if written (GUARDED_SET)."""
        raise NotSupported(f"{type(self).__name__} has no guarded set")

    def incr(self, key: str, ttl: float | None) -> int:
        """Atomically add one to the integer at ``key`` (INCR capability)."""
        raise NotSupported(f"{type(self).__name__} does not support incr")

    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the number of parts of the chord of ``group_key`` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        """Record one part atomically and report progress (CHORD capability).

        ``member`` identifies the part (a duplicate delivery of the same member
        is recorded once); ``index`` orders the parts (``None``: arrival order).
        """
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        """Expect ``by`` more parts (``Task.add_to_chord``) (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_parts(self, group_key: str) -> list[bytes]:
        """Return the recorded part values ordered by index (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_clear(self, group_key: str) -> None:
        """Forget the chord bookkeeping once the body was dispatched (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> Subscriber:
        """Open the shared push channel (SUBSCRIBE capability)."""
        raise NotSupported(f"{type(self).__name__} cannot push new values")

    def scan(self, prefix: str) -> Iterator[str]:
        """Yield the keys starting with ``prefix`` (SCAN capability)."""
        raise NotSupported(f"{type(self).__name__} cannot list its keys")

    def ttls(self, keys: Sequence[str]) -> list[float | None]:
        """Remaining seconds to live of each key, ``None`` for none or missing (TTL capability)."""
        raise NotSupported(f"{type(self).__name__} cannot report expiry")

    def cleanup(self) -> int:
        """Delete expired entries; return how many (CLEANUP capability)."""
        raise NotSupported(f"{type(self).__name__} expires entries by itself")

    def aio(self) -> AsyncKeyValueStore:
        """Return the native asyncio twin of this store (AIO capability)."""
        raise NotSupported(f"{type(self).__name__} has no native asyncio client")

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """True when ``exc`` is transient (connection lost, timeout) and retrying is safe."""
        return False

    def as_uri(self, include_password: bool = False) -> str:
        """The store's URL with the password masked unless asked for."""
        return f"{type(self).__name__.lower()}://"

    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.as_uri()}>"


class AsyncKeyValueStore(abc.ABC):
    """The asyncio twin of :class:`KeyValueStore`: same names, awaitable.

    ::

        astore = store.aio()
        await astore.set("k", b"v", ttl=60)
        assert await astore.get("k") == b"v"
        await astore.aclose()
    """

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """See :meth:`KeyValueStore.get`."""

    @abc.abstractmethod
    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """See :meth:`KeyValueStore.mget`."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :meth:`KeyValueStore.set`."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """See :meth:`KeyValueStore.delete`."""

    async def aclose(self) -> None:
        """Release connections."""


class ThreadedAsyncStore(AsyncKeyValueStore):
    """Fallback twin for stores without AIO: runs each call in a worker thread.

    The event loop never blocks on storage I/O.
    """

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self.store.get, key)

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return await asyncio.to_thread(self.store.mget, list(keys))

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        await asyncio.to_thread(self.store.set, key, value, ttl)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.store.delete, key)


class MetaStore(abc.ABC):
    """A record store (SQL, document databases): keeps decoded meta dicts.

    ``meta`` dicts carry the Celery fields (``status``, ``result``, ``traceback``,
    ``children``, ``date_done``, ``task_id`` and the ``result_extended`` fields);
    the plugin maps them onto its table/collection layout, keeping Celery's so
    that rows written by Celery stay readable.  Values of ``result`` are already
    encoded for storage (exceptions as dicts); the plugin stores them with
    :meth:`encode_value`/:meth:`decode_value` (the backend's codec, bound by core)
    when it needs bytes.  ``GUARDED_SET`` (:meth:`set_meta_unless_success`) and
    ``CHORD`` (the ``chord_*`` methods, same contract as on :class:`KeyValueStore`)
    are optional capabilities here too.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: As :attr:`KeyValueStore.certificate_settings`.
    certificate_settings: ClassVar[str] = GENERIC_CERTIFICATE_SETTINGS

    #: The backend's codec (serializer, compression, transforms), bound by core with
    #: :meth:`bind_codec` before first use; ``None`` until then.
    codec: Codec | None = None

    def bind_codec(self, codec: Codec) -> None:
        """Called by core once: the codec to serialize column values with."""
        self.codec = codec

    def encode_value(self, value: Any, key: str = "") -> bytes:
        """Serialize one value (a result, children, args) as Celery does for its columns.

        ``key`` names the record (``resultstore.keys.RECORDS.task(task_id)``): signing
        binds the value to it, so a value copied to another row is refused.
        """
        if self.codec is None:
            raise NotSupported(f"{type(self).__name__} is used before core bound its codec")
        return self.codec.encode(value, key)

    def decode_value(self, payload: bytes | str, key: str = "") -> Any:
        """Undo :meth:`encode_value` for record ``key``; ``DecodeError`` on unreadable data."""
        if self.codec is None:
            raise NotSupported(f"{type(self).__name__} is used before core bound its codec")
        return self.codec.decode(payload, key)

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, settings: Settings) -> MetaStore:
        """Build a store from a URL and Celery-named settings."""

    @abc.abstractmethod
    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        """Return the stored meta of ``task_id`` or ``None``."""

    @abc.abstractmethod
    def set_meta(self, task_id: str, meta: Mapping[str, Any]) -> None:
        """Insert or replace the meta of ``task_id``."""

    @abc.abstractmethod
    def delete_meta(self, task_id: str) -> None:
        """Remove the meta of ``task_id``."""

    @abc.abstractmethod
    def get_group(self, group_id: str) -> dict[str, Any] | None:
        """Return the saved group ``{'result': tuple}`` or ``None``."""

    @abc.abstractmethod
    def set_group(self, group_id: str, meta: Mapping[str, Any]) -> None:
        """Save a group."""

    @abc.abstractmethod
    def delete_group(self, group_id: str) -> None:
        """Remove a saved group."""

    def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the stored metas of ``task_ids`` that exist (one query with BATCH)."""
        found = {task_id: self.get_meta(task_id) for task_id in task_ids}
        return {task_id: meta for task_id, meta in found.items() if meta is not None}

    def set_meta_unless_success(self, task_id: str, meta: Mapping[str, Any]) -> bool:
        """Insert or replace unless a SUCCESS is stored, atomically; True if written (GUARDED_SET)."""
        raise NotSupported(f"{type(self).__name__} has no guarded set")

    def incr(self, key: str, ttl: float | None) -> int:
        """Atomic counter (INCR capability); used for chord accounting."""
        raise NotSupported(f"{type(self).__name__} does not support incr")

    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """See :meth:`KeyValueStore.chord_set_size` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        """See :meth:`KeyValueStore.chord_add` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        """See :meth:`KeyValueStore.chord_grow` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_parts(self, group_key: str) -> list[bytes]:
        """See :meth:`KeyValueStore.chord_parts` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def chord_clear(self, group_key: str) -> None:
        """See :meth:`KeyValueStore.chord_clear` (CHORD capability)."""
        raise NotSupported(f"{type(self).__name__} has no native chords")

    def scan_ids(self, kind: str) -> Iterator[str]:
        """Yield the ids of stored task metas (``kind="task"``) or saved groups
        (``kind="group"``) (SCAN capability)."""
        raise NotSupported(f"{type(self).__name__} cannot list its records")

    def cleanup(self) -> int:
        """Delete expired records; return how many (CLEANUP capability)."""
        raise NotSupported(f"{type(self).__name__} expires entries by itself")

    def subscriber(self, on_message: MetaMessageHandler,
                   on_reconnect: Callable[[], None]) -> Subscriber:
        """Open the shared push channel (SUBSCRIBE capability).

        Unlike a key/value store's, it is addressed by task id (``subscribe(task_id)``)
        and delivers ``(task_id, meta)``.  A store whose deployment turns out unable to
        push (probed when the channel opens) raises :class:`~resultstore.errors.NotSupported`;
        waits then poll.
        """
        raise NotSupported(f"{type(self).__name__} cannot push new values")

    def aio(self) -> AsyncMetaStore:
        """Return the native asyncio twin of this store (AIO capability)."""
        raise NotSupported(f"{type(self).__name__} has no native asyncio client")

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """True when ``exc`` is transient and retrying is safe."""
        return False

    def as_uri(self, include_password: bool = False) -> str:
        """The store's URL with the password masked unless asked for."""
        return f"{type(self).__name__.lower()}://"

    def close(self) -> None:
        """Release connections."""


class AsyncMetaStore(abc.ABC):
    """The asyncio twin of a :class:`MetaStore`'s reads: same names, awaitable."""

    @abc.abstractmethod
    async def get_meta(self, task_id: str) -> dict[str, Any] | None:
        """See :meth:`MetaStore.get_meta`."""

    @abc.abstractmethod
    async def get_many_meta(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """See :meth:`MetaStore.get_many_meta`."""

    async def aclose(self) -> None:
        """Release connections."""


#: Either shape of store.
Store = KeyValueStore | MetaStore
