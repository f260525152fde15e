"""``EagerResult``: the result of a task run in-process, known at once (as Celery's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import states
from ..codec import exception_to_python
from .blocking import assert_will_not_block
from .result import AsyncResult, Meta, ReadyCallback

__all__ = ["EagerResult"]


class EagerResult(AsyncResult):
    """A result that is already there; it never reads a backend.

    >>> r = EagerResult("t-1", 4, "SUCCESS")
    >>> r.get(), r.ready(), r.state
    (4, True, 'SUCCESS')
    """

    def __init__(self, id: str, ret_value: Any, state: str, traceback: str | None = None,
                 name: str | None = None) -> None:
        # An eager result has no backend: it never calls AsyncResult.__init__ (as Celery).
        self.id = str(id)
        self.backend = None  # type: ignore[assignment]
        self.parent = None
        self.revoke_hook = None
        self._ignored = False
        self._callbacks = []
        self._cache: Meta = {"task_id": self.id, "result": ret_value, "status": state,
                             "traceback": traceback, "name": name}

    def _get_task_meta(self) -> Meta:
        return self._cache

    def ready(self) -> bool:
        return True

    @property
    def supports_native_join(self) -> bool:
        return False

    def get(self, timeout: float | None = None, propagate: bool = True,  # type: ignore[override]
            disable_sync_subtasks: bool = True, **kwargs: Any) -> Any:
        """The value; raises the exception of a failed/revoked task when ``propagate``."""
        if disable_sync_subtasks:
            assert_will_not_block()
        value = self._cache["result"]
        if self.state in states.PROPAGATE_STATES and propagate:
            raise value if isinstance(value, BaseException) else Exception(value)
        callback = kwargs.get("callback")
        if callback is not None:
            callback(self.id, value)
        return value

    wait = get  # type: ignore[assignment]

    async def aget(self, timeout: float | None = None, propagate: bool = True,  # type: ignore[override]
                   disable_sync_subtasks: bool = True, **kwargs: Any) -> Any:
        return self.get(timeout, propagate, disable_sync_subtasks, **kwargs)

    async def arefresh(self) -> Meta:
        return self._cache

    def then(self, callback: ReadyCallback, on_error: Callable[[BaseException], Any] | None = None,
             weak: bool = False) -> ReadyCallback:
        self._run_callback(callback, on_error)
        return callback

    def forget(self) -> None:
        """Nothing is stored for an eager result."""

    def exists(self) -> bool:
        return True

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        """Mark as ``REVOKED``; the value becomes ``TaskRevokedError('revoked')`` (Celery 5.7)."""
        self._cache.update(status=states.REVOKED, traceback=None, result=exception_to_python(
            {"exc_type": "TaskRevokedError", "exc_module": "celery.exceptions",
             "exc_message": ["revoked"]}))

    def __copy__(self) -> EagerResult:
        meta = self._cache
        return EagerResult(self.id, meta["result"], meta["status"], meta["traceback"], meta["name"])

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"
