"""Celery host classes for core's built-in stores (``memory://``, ``disabled://``).

Name them in a Celery app directly (``result_backend =
"resultstore.celery.builtins:MemoryBackend"``) or through
``override_backends={"memory": "resultstore.celery.builtins:MemoryBackend"}``.
``memory://`` keeps results in the process: a worker and a client share them
only when they run in one process (eager mode, threaded test workers).
"""

from __future__ import annotations

from ..stores.disabled import DisabledStore
from ..stores.memory import MemoryStore
from .host import CeleryBackend

__all__ = ["MemoryBackend", "DisabledBackend"]


class MemoryBackend(CeleryBackend):
    """Process-local results with every capability (push waiting, native chords)."""

    resultstore_store = MemoryStore
    default_url = "memory://"


class DisabledBackend(CeleryBackend):
    """Results turned off: writes are dropped, reads and chords raise."""

    resultstore_store = DisabledStore
    default_url = "disabled://"
