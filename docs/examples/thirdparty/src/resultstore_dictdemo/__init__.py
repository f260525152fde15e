"""A complete third-party store in ~30 lines: a process-local dict.

It declares no optional capability, so core supplies every fallback: batched
reads become loops, chords are polled by the host, waiting polls.
"""

from __future__ import annotations

import threading
import time

from resultstore import KeyValueStore, Settings
from resultstore.celery import CeleryBackend

_DATA: dict[str, tuple[bytes, float | None]] = {}
_LOCK = threading.Lock()


class DictDemoStore(KeyValueStore):
    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DictDemoStore:
        return cls()

    def get(self, key: str) -> bytes | None:
        with _LOCK:
            value, deadline = _DATA.get(key, (None, None))
            if deadline is not None and deadline <= time.monotonic():
                _DATA.pop(key, None)
                return None
            return value

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        with _LOCK:
            _DATA[key] = (value, time.monotonic() + ttl if ttl else None)

    def delete(self, key: str) -> None:
        with _LOCK:
            _DATA.pop(key, None)

    def as_uri(self, include_password: bool = False) -> str:
        return "dictdemo://"


class DictDemoBackend(CeleryBackend):
    """What Celery loads for ``result_backend = "dictdemo://"``."""

    resultstore_store = DictDemoStore
