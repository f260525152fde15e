"""How the Celery host waits: :mod:`resultstore.waiting` when present, else polling.

The polling fallback keeps the same interface as ``resultstore.waiting``
(``waiter(backend).wait(...)`` / ``.iter_ready(...)``) so the host has one
call site either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import states
from ..backend import ResultBackend
from ..errors import TimeoutError

__all__ = ["get_waiter", "PollingWaiter"]


class PollingWaiter:
    """Poll with one batched read per pass; never sleeps past the deadline (as Celery 5.7)."""

    def __init__(self, backend: ResultBackend) -> None:
        self.backend = backend

    def wait(self, task_id: str, timeout: float | None = None, interval: float = 0.5,
             on_interval: Callable[[], Any] | None = None) -> dict[str, Any]:
        for _, meta in self.iter_ready([task_id], timeout, interval, on_interval):
            return meta
        raise AssertionError("unreachable: iter_ready yields every id or raises")

    def iter_ready(self, task_ids: Iterable[str], timeout: float | None = None,
                   interval: float = 0.5, on_interval: Callable[[], Any] | None = None
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
        pending = list(dict.fromkeys(str(t) for t in task_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            metas = self.backend.get_many(pending)
            still = []
            for task_id in pending:
                meta = metas[task_id]
                if meta["status"] in states.READY_STATES:
                    yield task_id, meta
                else:
                    still.append(task_id)
            pending = still
            if not pending:
                return
            if on_interval is not None:
                on_interval()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"The operation timed out ({timeout}s).")
            time.sleep(interval if left is None else min(interval, left))


def get_waiter(backend: ResultBackend) -> Any:
    """``resultstore.waiting.waiter(backend)`` if that module exists, else polling."""
    try:
        from ..waiting import waiter  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return PollingWaiter(backend)
    return waiter(backend)
