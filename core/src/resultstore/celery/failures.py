"""Propagating a failure through a Celery canvas: chains, errbacks, chord bodies.

The semantics are those of ``celery/backends/base.py:Backend`` (5.7): a failed
task fails the rest of its chain, returns its chord part, and calls its
errbacks (new-style ``errback(request, exc, tb)`` in process, old-style ones
as tasks); a failed chord fails its body, or every member of a group body.
Celery is imported lazily, inside these methods, which only Celery reaches.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from .. import states

__all__ = ["FailureMixin"]

logger = logging.getLogger("resultstore.celery")


def _fake_request(task_id: Any, errbacks: Any = None, task_name: str = "unknown",
                  **extra: Any) -> Any:
    """Celery's ``_create_fake_task_request``: a Context good enough for errbacks."""
    from celery.app.task import Context

    return Context({"id": task_id, "errbacks": errbacks or [], "delivery_info": {},
                    "task": task_name, **extra})


def _result_errbacks(sig: Any, app: Any) -> tuple[Any, list[Any]]:
    """The result id of ``sig`` and every errback linked to it (Celery's rules)."""
    from celery import chord, group, maybe_signature
    from celery.utils.functional import maybe_list

    sig = maybe_signature(sig, app=app)
    errbacks: list[Any] = []
    while isinstance(sig, chord) and sig.body is not None:
        errbacks.extend(maybe_list(sig.options.get("link_error")) or [])
        sig = maybe_signature(sig.body, app=app)
    errbacks.extend(maybe_list(sig.options.get("link_error")) or [])
    if isinstance(sig, group):
        for task in sig.tasks:
            errbacks.extend(_result_errbacks(task, app)[1])
    return sig.options.get("task_id"), errbacks


class FailureMixin:
    """Failure propagation for :class:`~resultstore.celery.CeleryBackend`."""

    app: Any

    # provided by the host class and ChordMixin (annotations only: no stub in the MRO)
    store_result: Callable[..., Any]
    get_state: Callable[[str], str]
    on_chord_part_return: Callable[..., Any]
    mark_as_failure: Callable[..., Any]

    # -- chains -------------------------------------------------------------
    def _fail_chain(self, chain: Any, exc: BaseException, traceback: str | None = None,
                    store_result: bool = True, state: str = states.FAILURE) -> None:
        """Fail every task chained after a failed one (and return their chord parts)."""
        try:
            elements = deque(iter(chain))
        except TypeError:  # None or a placeholder: nothing is chained
            return
        if not elements:
            return
        from celery.app.task import Context

        while elements:
            ctx = Context(elements.popleft())
            ctx.update(ctx.options)
            ctx.id = ctx.options.get("task_id")
            ctx.group = ctx.options.get("group_id")
            in_chord = "chord" in ctx.options
            already_failed = (in_chord and ctx.id is not None
                              and self.get_state(ctx.id) in states.PROPAGATE_STATES)
            if store_result and state in states.PROPAGATE_STATES and ctx.id is not None:
                self.store_result(ctx.id, exc, state, traceback=traceback, request=ctx)
            if in_chord and not already_failed:
                self.on_chord_part_return(ctx, state, exc)
            if getattr(ctx, "subtask_type", None) == "chord":
                body = (ctx.kwargs or {}).get("body")
                if body is not None:
                    elements.append(body)

    # -- errbacks -----------------------------------------------------------
    @staticmethod
    def _errback_arity_greater(errback: Any, n: int) -> bool:
        from celery.utils.functional import arity_greater

        header = errback.type.__header__
        if not errback.immutable and (errback.args or errback.kwargs):
            try:
                return bool(arity_greater(partial(header, *errback.args, **errback.kwargs), n))
            except (TypeError, ValueError):
                return bool(arity_greater(header, n))
        return bool(arity_greater(header, n))

    def _call_task_errbacks(self, request: Any, exc: BaseException, traceback: str | None) -> None:
        """New-style errbacks run here; old-style ones are sent as a group of tasks."""
        from celery import group
        from celery.exceptions import NotRegistered

        old_style = []
        for errback in request.errbacks:
            errback = self.app.signature(errback)
            if not errback._app:
                errback._app = self.app
            try:
                new_style = (hasattr(errback.type, "__header__")
                             and not isinstance(errback.type.__header__, partial)
                             and self._errback_arity_greater(errback, 1))
                if not new_style:
                    old_style.append(errback)
                    continue
                try:
                    errback(request, exc, traceback)
                except Exception:
                    logger.exception("Errback %r raised an exception", errback.name)
            except NotRegistered:  # not on this worker: let another one run it
                old_style.append(errback)
        if old_style:
            task_id = request.id
            root_id = request.root_id or task_id
            errbacks = group(old_style, app=self.app)
            delivery_info = getattr(request, "delivery_info", None) or {}
            if self.app.conf.task_always_eager or delivery_info.get("is_eager", False):
                errbacks.apply((task_id,), parent_id=task_id, root_id=root_id)
            else:
                errbacks.apply_async((task_id,), parent_id=task_id, root_id=root_id)

    # -- chord bodies ---------------------------------------------------------
    def fail_from_current_stack(self, task_id: str, exc: BaseException | None = None) -> Any:
        """Store FAILURE for ``task_id`` with the traceback being handled now."""
        from billiard.einfo import ExceptionInfo  # type: ignore[import-untyped, unused-ignore]

        type_, real_exc, tb = sys.exc_info()
        try:
            exc = real_exc if exc is None else exc
            info = ExceptionInfo((type_, exc, tb))
            self.mark_as_failure(task_id, exc, info.traceback)
            return info
        finally:
            while tb is not None:  # break reference cycles through the frames
                try:
                    tb.tb_frame.clear()
                except RuntimeError:
                    pass
                tb = tb.tb_next
            del tb

    def chord_error_from_stack(self, callback: Any, exc: BaseException | None = None) -> Any:
        """Fail a chord's body (or each member of a group body) with ``exc``."""
        from celery import group

        if exc is None:
            exc = sys.exc_info()[1]
        try:
            backend = self.app._tasks[callback.task].backend
        except KeyError:
            backend = self
        if isinstance(callback, group):
            info = self._handle_group_chord_error(callback, backend, exc)
            backend._fail_chain(callback.options.get("chain"), exc)
            return info
        callback_id = callback.id
        if not callback_id:
            from kombu.utils.uuid import uuid

            callback_id = callback.options["task_id"] = uuid()
        fake = _fake_request(callback.options.get("task_id"),
                             callback.options.get("link_error", []), **callback)
        try:
            self._call_task_errbacks(fake, exc, None)  # type: ignore[arg-type]
        except Exception as errback_exc:  # noqa: BLE001 - the body fails with the errback's error
            exc = errback_exc
            info = backend.fail_from_current_stack(callback_id, exc=exc)
        else:
            info = backend.fail_from_current_stack(callback_id, exc=exc)
        backend._fail_chain(callback.options.get("chain"), exc)
        return info

    def _handle_group_chord_error(self, group_callback: Any, backend: Any,
                                  exc: BaseException | None = None) -> Any:
        """A group body: fail, errback and revoke each member, then the group (Celery #8786)."""
        from celery.exceptions import ChordError
        from celery.result import GroupResult
        from celery.utils.functional import maybe_list

        cause = exc.__cause__ if isinstance(exc, ChordError) and exc.__cause__ else exc
        try:
            frozen = group_callback.freeze()
            if isinstance(frozen, GroupResult):
                group_errbacks = maybe_list(group_callback.options.get("link_error")) or []
                task_errbacks = dict(_result_errbacks(t, self.app) for t in group_callback.tasks)
                for result in frozen.results:
                    try:
                        errbacks: list[Any] = []
                        for errback in (*task_errbacks.get(result.id, ()), *group_errbacks):
                            if errback not in errbacks:
                                errbacks.append(errback)
                        fake = _fake_request(result.id, errbacks,
                                             getattr(result, "task", "unknown"))
                        try:
                            backend._call_task_errbacks(fake, cause, None)
                        except Exception:  # noqa: BLE001 - every member must still be failed
                            pass
                        backend.fail_from_current_stack(result.id, exc=cause)
                    except Exception as member_exc:
                        logger.exception("Failed to handle chord error for task %s: %r",
                                         getattr(result, "id", "unknown"), member_exc)
                if getattr(frozen, "id", None):
                    backend.mark_as_failure(frozen.id, cause)
                frozen.revoke()
            return None
        except Exception as cleanup_exc:
            logger.exception("Failed to handle group chord error, failing the group id: %r",
                             cleanup_exc)
            return backend.fail_from_current_stack(group_callback.id, exc=exc)
