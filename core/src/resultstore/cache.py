"""LRU cache of ready task metas (``result_cache_max``; ``-1`` disables it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

__all__ = ["ResultCache"]


class ResultCache:
    """Thread-safe LRU mapping task id -> meta; only ``SUCCESS`` metas are put in.

    ``limit=-1`` disables caching, ``0`` means unbounded (as Celery/kombu).
    """

    def __init__(self, limit: int = -1) -> None:
        self.limit = limit
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit != -1

    def get(self, task_id: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        with self._lock:
            meta = self._data.get(task_id)
            if meta is not None:
                self._data.move_to_end(task_id)
            return meta

    def put(self, task_id: str, meta: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._data[task_id] = meta
            self._data.move_to_end(task_id)
            while self.limit and len(self._data) > self.limit:
                self._data.popitem(last=False)

    def discard(self, task_id: str) -> None:
        with self._lock:
            self._data.pop(task_id, None)

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
