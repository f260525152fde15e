"""``memory://[namespace]``: a process-local store with every capability.

Stores opened with the same namespace share data within the process (so a
"worker" thread and a "client" see the same results).  Thread-safe.  Useful
for tests, eager mode and single-process apps; nothing survives the process.
"""

from __future__ import annotations

import asyncio
import fnmatch
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..config import Settings
from ..spec import (
    AsyncKeyValueStore,
    Capability,
    ChordProgress,
    KeyValueStore,
    MessageHandler,
)

__all__ = ["MemoryStore"]


@dataclass
class _Chord:
    size: int | None = None
    grow: int = 0
    parts: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    done: bool = False


@dataclass
class _Space:
    lock: threading.RLock = field(default_factory=threading.RLock)
    data: dict[str, tuple[bytes, float | None]] = field(default_factory=dict)
    chords: dict[str, _Chord] = field(default_factory=dict)
    subscribers: list[_MemorySubscriber] = field(default_factory=list)


_SPACES: dict[str, _Space] = {}
_SPACES_LOCK = threading.Lock()


def _deadline(ttl: float | None) -> float | None:
    return time.monotonic() + ttl if ttl else None


class _MemorySubscriber:
    """Delivers values synchronously on the writer's thread (no connection to lose)."""

    def __init__(self, space: _Space, on_message: MessageHandler) -> None:
        self.space = space
        self.on_message = on_message
        self.keys: set[str] = set()

    def subscribe(self, key: str) -> None:
        with self.space.lock:
            self.keys.add(key)

    def unsubscribe(self, key: str) -> None:
        with self.space.lock:
            self.keys.discard(key)

    def close(self) -> None:
        with self.space.lock:
            if self in self.space.subscribers:
                self.space.subscribers.remove(self)
            self.keys.clear()


class MemoryStore(KeyValueStore):
    """Dict-backed store; see the module docstring."""

    capabilities = frozenset({
        Capability.INCR, Capability.BATCH, Capability.CHORD, Capability.SUBSCRIBE,
        Capability.SCAN, Capability.AIO, Capability.GUARDED_SET, Capability.CLEANUP,
        Capability.TTL,
    })

    def __init__(self, namespace: str = "default") -> None:
        self.namespace = namespace
        with _SPACES_LOCK:
            self.space = _SPACES.setdefault(namespace, _Space())

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> MemoryStore:
        parts = urlsplit(url)
        return cls((parts.netloc + parts.path).strip("/") or "default")

    # -- basic --------------------------------------------------------------
    def _live(self, key: str) -> bytes | None:
        item = self.space.data.get(key)
        if item is None:
            return None
        value, deadline = item
        if deadline is not None and deadline <= time.monotonic():
            del self.space.data[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        with self.space.lock:
            return self._live(key)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        with self.space.lock:
            return [self._live(key) for key in keys]

    def ttls(self, keys: Sequence[str]) -> list[float | None]:
        now = time.monotonic()
        with self.space.lock:
            items = [self.space.data.get(key) for key in keys]
        return [None if item is None or item[1] is None else max(item[1] - now, 0.001)
                for item in items]

    def _publish(self, key: str, value: bytes) -> None:
        targets = [s for s in self.space.subscribers if key in s.keys]
        for subscriber in targets:
            subscriber.on_message(key, value)

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        with self.space.lock:
            self.space.data[key] = (bytes(value), _deadline(ttl))
            self._publish(key, value)

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        with self.space.lock:
            current = self._live(key)
            if current is not None and current.startswith(prefix):
                return False
            self.set(key, value, ttl)
            return True

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        with self.space.lock:
            for key, value in items.items():
                self.set(key, value, ttl)

    def delete(self, key: str) -> None:
        with self.space.lock:
            self.space.data.pop(key, None)
            self.space.chords.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        with self.space.lock:
            for key in keys:
                self.delete(key)

    def incr(self, key: str, ttl: float | None) -> int:
        with self.space.lock:
            value = int(self._live(key) or 0) + 1
            self.space.data[key] = (str(value).encode(), _deadline(ttl))
            return value

    # -- chords ---------------------------------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        with self.space.lock:
            chord = self.space.chords.setdefault(group_key, _Chord())
            chord.size, chord.done = size, False

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        with self.space.lock:
            chord = self.space.chords.setdefault(group_key, _Chord())
            if chord.done:
                return ChordProgress(len(chord.parts), chord.size, False)
            order = float("inf") if index is None else float(index)
            added = member not in chord.parts
            if added:
                chord.parts[member] = (order, bytes(value))
            size = None if chord.size is None else chord.size + chord.grow
            complete = added and size is not None and len(chord.parts) == size
            chord.done = complete
            return ChordProgress(len(chord.parts), size, complete)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        with self.space.lock:
            self.space.chords.setdefault(group_key, _Chord()).grow += by

    def chord_parts(self, group_key: str) -> list[bytes]:
        with self.space.lock:
            chord = self.space.chords.get(group_key)
            parts = sorted(chord.parts.values(), key=lambda p: p[0]) if chord else []
            return [value for _, value in parts]

    def chord_clear(self, group_key: str) -> None:
        with self.space.lock:
            chord = self.space.chords.get(group_key)
            if chord is not None:
                chord.parts.clear()
                chord.done = True

    # -- push, listing, expiry -------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> _MemorySubscriber:
        subscriber = _MemorySubscriber(self.space, on_message)
        with self.space.lock:
            self.space.subscribers.append(subscriber)
        return subscriber

    def scan(self, prefix: str) -> Iterator[str]:
        with self.space.lock:
            keys = [k for k in self.space.data if k.startswith(prefix) and self._live(k) is not None]
        return iter(keys)

    def cleanup(self) -> int:
        with self.space.lock:
            expired = [k for k in list(self.space.data) if self._live(k) is None]
        return len(expired)

    def aio(self) -> AsyncKeyValueStore:
        return _AsyncMemoryStore(self)

    def as_uri(self, include_password: bool = False) -> str:
        return f"memory://{self.namespace}"

    def flush(self, pattern: str = "*") -> None:
        """Delete every key matching ``pattern`` (tests)."""
        with self.space.lock:
            for key in [k for k in self.space.data if fnmatch.fnmatchcase(k, pattern)]:
                del self.space.data[key]
            self.space.chords.clear()


class _AsyncMemoryStore(AsyncKeyValueStore):
    """Native asyncio twin: the dict never blocks, so no thread is needed."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.store.mget(keys)

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.store.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        self.store.delete(key)

    async def aclose(self) -> None:
        await asyncio.sleep(0)


