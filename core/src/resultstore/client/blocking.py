"""The "never join inside a task" guard (Celery's ``disable_sync_subtasks``).

Waiting for another task's result from inside a task can deadlock a worker pool,
so ``get``/``join`` raise ``RuntimeError`` while joins are denied.  Hosts deny
joins around task execution with :func:`denied_join_result`; code that knows
what it does re-allows them with :func:`allow_join_result`.  The flag is a
:class:`contextvars.ContextVar`, so it follows threads and asyncio tasks.  When
it was never set here and Celery is already imported, Celery's own flag
(``celery._state.task_join_will_block``) decides, so a resultstore client used
inside a Celery task is guarded as well.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["allow_join_result", "denied_join_result", "task_join_will_block",
           "assert_will_not_block", "E_WOULDBLOCK"]

E_WOULDBLOCK = (
    "Never call result.get() within a task! Waiting for another task from inside a task "
    "can deadlock the worker pool. See "
    "https://docs.celeryq.dev/en/latest/userguide/tasks.html#avoid-launching-synchronous-subtasks"
)

_WILL_BLOCK: ContextVar[bool | None] = ContextVar("resultstore_join_will_block", default=None)


def task_join_will_block() -> bool:
    """True while joins are denied (inside a task)."""
    value = _WILL_BLOCK.get()
    if value is not None:
        return value
    celery_state = sys.modules.get("celery._state")  # never import Celery here
    if celery_state is not None:
        return bool(celery_state.task_join_will_block())
    return False


def assert_will_not_block() -> None:
    """Raise ``RuntimeError`` when joins are denied."""
    if task_join_will_block():
        raise RuntimeError(E_WOULDBLOCK)


@contextmanager
def allow_join_result() -> Iterator[None]:
    """Allow ``get``/``join`` in this context, even inside a task."""
    token = _WILL_BLOCK.set(False)
    try:
        yield
    finally:
        _WILL_BLOCK.reset(token)


@contextmanager
def denied_join_result() -> Iterator[None]:
    """Deny ``get``/``join`` in this context (hosts wrap task execution in it)."""
    token = _WILL_BLOCK.set(True)
    try:
        yield
    finally:
        _WILL_BLOCK.reset(token)
