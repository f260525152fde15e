"""Celery host classes for core's built-in stores (``memory://``, ``disabled://``).

Name them in a Celery app directly (``result_backend =
"resultstore.celery.builtins:MemoryBackend"``) or through
``override_backends={"memory": "resultstore.celery.builtins:MemoryBackend"}``.
``memory://`` keeps results in the process: a worker and a client share them
only when they run in one process (eager mode, threaded test workers).
"""

from __future__ import annotations

from typing import Any

from ..stores.disabled import DisabledStore
from ..stores.memory import MemoryStore
from .host import CeleryBackend
from .surface import celery_bases

__all__ = ["MemoryBackend", "DisabledBackend"]


class MemoryBackend(CeleryBackend):
    """Process-local results with every capability (push waiting, native chords)."""

    resultstore_store = MemoryStore
    default_url = "memory://"


class DisabledBackend(CeleryBackend,
                      *celery_bases("celery.backends.base:DisabledBackend")):  # type: ignore[misc]
    """Results turned off: writes are dropped, reads and chords raise (an instance of
    Celery's ``DisabledBackend`` too, with Celery installed)."""

    resultstore_store = DisabledStore
    default_url = "disabled://"

    def get_task_meta_for(self, task_id: str) -> Any:
        """Celery's ``DisabledBackend`` name for a read: refused like every read."""
        return self.get_task_meta(task_id)
