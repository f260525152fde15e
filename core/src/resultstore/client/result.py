"""``AsyncResult``: one task's result, with Celery's API plus asyncio twins.

>>> import resultstore
>>> backend = resultstore.connect("memory://doctest-result")
>>> _ = backend.mark_as_done("t-1", 42)
>>> r = resultstore.AsyncResult("t-1", backend=backend)
>>> r.state, r.get(timeout=1), r.ready()
('SUCCESS', 42, True)
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
from collections import deque
from collections.abc import Callable, Iterator
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from dateutil.parser import isoparse

from .. import states
from ..errors import ImproperlyConfigured, NotSupported, ResultStoreError, TimeoutError
from ..waiting import OnInterval, OnMessage, waiter
from .blocking import assert_will_not_block
from .graph import DependencyGraph

if TYPE_CHECKING:
    from ..backend import ResultBackend

__all__ = ["ResultBase", "AsyncResult", "IncompleteStream", "Meta", "RevokeHook"]

Meta = dict[str, Any]
#: ``revoke(task_ids, terminate=, signal=, reply=, timeout=)``, e.g. Celery's ``app.control.revoke``.
RevokeHook = Callable[..., Any]
#: ``callback(result)``, run once the result is observed ready.
ReadyCallback = Callable[[Any], Any]


class IncompleteStream(ResultStoreError):
    """``iterdeps``/``collect`` found a result that is not ready yet."""


class ResultBase:
    """What every result object has: a parent, a tuple form and its leaf task results."""

    #: The result this one follows in a chain (``None`` for the first).
    parent: ResultBase | None = None

    def as_tuple(self) -> Any:
        raise NotImplementedError

    def _leaves(self) -> list[AsyncResult]:
        """The task results this result is made of (itself for a task)."""
        raise NotImplementedError

    def forget(self) -> None:
        raise NotImplementedError

    def maybe_throw(self, propagate: bool = True, callback: Callable[[str, Any], Any] | None = None
                    ) -> Any:
        raise NotImplementedError


def raise_failure(task_id: str, state: str, value: Any, traceback: TracebackType | None = None
                  ) -> NoReturn:
    """Raise a failed task's stored exception (original type, or its stand-in)."""
    if isinstance(value, BaseException):
        if traceback is not None:
            raise value.with_traceback(traceback)
        raise value
    raise ResultStoreError(f"Task {task_id} ended in state {state} with result {value!r}")


class AsyncResult(ResultBase):
    """The result of task ``id`` read from ``backend``.

    Reads are lazy and a ready meta is kept on the object, so after ``get()``
    every attribute is served without another round trip.
    """

    #: Raised by :meth:`get` when the timeout passes.
    TimeoutError = TimeoutError

    def __init__(self, id: str, backend: ResultBackend | None = None,
                 parent: ResultBase | None = None, *, revoke: RevokeHook | None = None) -> None:
        if id is None:
            raise ValueError(f"AsyncResult requires a valid id, not {type(id)}")
        if backend is None:
            raise ImproperlyConfigured(
                "AsyncResult needs a backend: AsyncResult(task_id, backend=resultstore.connect(url))."
            )
        self.id = str(id)
        self.backend: ResultBackend = backend
        self.parent = parent
        self.revoke_hook = revoke
        self._cache: Meta | None = None
        self._ignored = False
        self._callbacks: list[tuple[ReadyCallback, Callable[[BaseException], Any] | None]] = []

    # -- state ------------------------------------------------------------------
    def _maybe_set_cache(self, meta: Meta) -> Meta:
        """Keep ``meta`` once it is ready (children become result objects) and fire ``then``."""
        if meta and meta.get("status") in states.READY_STATES:
            if self._cache is None:
                cached = dict(meta)
                cached["children"] = self._children_of(cached.get("children"))
                self._cache = cached
                self._fire()
            return self._cache
        return meta

    def _children_of(self, children: Any) -> Any:
        if not children:
            return children
        from .tuples import result_from_tuple

        return [result_from_tuple(child, self.backend, revoke=self.revoke_hook) for child in children]

    def _get_task_meta(self) -> Meta:
        if self._cache is None:
            return self._maybe_set_cache(self.backend.get_task_meta(self.id))
        return self._cache

    def _leaves(self) -> list[AsyncResult]:
        return [self]

    @property
    def ignored(self) -> bool:
        """If True, :meth:`get` returns ``None`` without waiting (``ignore_result`` tasks)."""
        return self._ignored

    @ignored.setter
    def ignored(self, value: bool) -> None:
        self._ignored = value

    @property
    def state(self) -> str:
        """``PENDING``, ``STARTED``, ``RETRY``, ``FAILURE``, ``SUCCESS``, ``REVOKED`` or custom."""
        return str(self._get_task_meta()["status"])

    status = state

    @property
    def result(self) -> Any:
        """The return value, or the exception instance of a failed task."""
        return self._get_task_meta()["result"]

    info = result

    @property
    def traceback(self) -> str | None:
        return self._get_task_meta().get("traceback")

    @property
    def children(self) -> list[ResultBase] | None:
        """Results of the tasks this task started (needs the task's ``trail``)."""
        meta = self._get_task_meta()
        children = meta.get("children")
        return children if meta is self._cache else self._children_of(children)

    @property
    def date_done(self) -> datetime.datetime | None:
        """When the task finished (aware datetime), ``None`` while not ready."""
        value = self._get_task_meta().get("date_done")
        if value and not isinstance(value, datetime.datetime):
            return isoparse(value)
        return value

    @property
    def task_id(self) -> str:
        return self.id

    @property
    def name(self) -> str | None:
        return self._get_task_meta().get("name")

    @property
    def args(self) -> Any:
        return self._get_task_meta().get("args")

    @property
    def kwargs(self) -> Any:
        return self._get_task_meta().get("kwargs")

    @property
    def worker(self) -> str | None:
        return self._get_task_meta().get("worker")

    @property
    def retries(self) -> int | None:
        return self._get_task_meta().get("retries")

    @property
    def queue(self) -> str | None:
        return self._get_task_meta().get("queue")

    @property
    def supports_native_join(self) -> bool:
        return True

    def ready(self) -> bool:
        """True once the task finished (``SUCCESS``, ``FAILURE`` or ``REVOKED``)."""
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    def exists(self) -> bool:
        """True if the backend stores a result for this id (tells "pending" from "unknown")."""
        return self.backend.task_result_exists(self.id)

    # -- raising ------------------------------------------------------------------
    def maybe_throw(self, propagate: bool = True, callback: Callable[[str, Any], Any] | None = None
                    ) -> Any:
        """Raise the task's exception if it failed and ``propagate``; else return the value."""
        meta = self._get_task_meta() if self._cache is None else self._cache
        state, value = meta["status"], meta["result"]
        if state in states.PROPAGATE_STATES and propagate:
            raise_failure(self.id, state, value, self._remote_traceback(meta.get("traceback")))
        if callback is not None:
            callback(self.id, value)
        return value

    maybe_reraise = maybe_throw

    def _remote_traceback(self, tb: str | None) -> TracebackType | None:
        """The worker's traceback as a traceback object (``task_remote_tracebacks`` + tblib)."""
        if not tb or not self.backend.settings.get("task_remote_tracebacks"):
            return None
        try:
            tblib: Any = importlib.import_module("tblib")
            remote: TracebackType = tblib.Traceback.from_string(tb).as_traceback()
        except Exception:  # noqa: BLE001 - tblib missing or the text unparsable: local traceback
            return None
        return remote

    # -- waiting ----------------------------------------------------------------------
    def _parent_leaves(self) -> list[AsyncResult]:
        """Task results of every parent, root first."""
        nodes: list[ResultBase] = []
        node = self.parent
        while node is not None:
            nodes.append(node)
            node = node.parent
        return [leaf for node in reversed(nodes) for leaf in node._leaves()]

    def _split_parents(self, follow: bool) -> list[AsyncResult]:
        """Raise for already-known parent failures; return parents still to watch here."""
        watch = []
        for parent in self._parent_leaves() if follow else ():
            if parent._cache is not None or parent.backend is not self.backend:
                parent.maybe_throw()
            else:
                watch.append(parent)
        return watch

    def _on_parent(self, parent: AsyncResult, meta: Meta) -> None:
        parent._maybe_set_cache(meta)
        parent.maybe_throw()

    def _own_messages(self, on_message: OnMessage | None, parents: list[AsyncResult]
                      ) -> OnMessage | None:
        if on_message is None or not parents:
            return on_message
        own = self.id
        return lambda meta: on_message(meta) if meta.get("task_id") == own else None

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5,
            no_ack: bool = True, follow_parents: bool = True,
            callback: Callable[[str, Any], Any] | None = None,
            on_message: OnMessage | None = None, on_interval: OnInterval | None = None,
            disable_sync_subtasks: bool = True) -> Any:
        """Wait until the task is ready and return its value (or raise its exception).

        ``timeout`` raises :class:`resultstore.TimeoutError`; ``propagate=False``
        returns a failure's exception instead of raising it; ``follow_parents``
        raises the exception of a failed parent (chains) as soon as it is known,
        without waiting for this task; ``on_message`` sees every meta pushed or
        polled for this task; ``on_interval`` runs on every pass.  ``no_ack`` is
        accepted for Celery compatibility.
        """
        if self.ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        parents = self._split_parents(follow_parents and propagate)
        if self._cache is not None:
            if parents:
                metas = self.backend.get_many([p.id for p in parents])
                for parent in parents:
                    self._on_parent(parent, metas[parent.id])
            return self.maybe_throw(propagate=propagate, callback=callback)
        index = {p.id: p for p in parents}
        ready = waiter(self.backend).iter_ready([*index, self.id], timeout, interval, on_interval,
                                                self._own_messages(on_message, parents))
        try:
            for task_id, meta in ready:
                if task_id == self.id:
                    self._maybe_set_cache(meta)
                    break
                self._on_parent(index[task_id], meta)
        finally:
            ready.close()
        return self.maybe_throw(propagate=propagate, callback=callback)

    wait = get

    async def aget(self, timeout: float | None = None, propagate: bool = True,
                   interval: float = 0.5, follow_parents: bool = True,
                   callback: Callable[[str, Any], Any] | None = None,
                   on_message: OnMessage | None = None, on_interval: OnInterval | None = None,
                   disable_sync_subtasks: bool = True) -> Any:
        """The asyncio twin of :meth:`get`: same arguments, never blocks the event loop."""
        if self.ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        parents = self._split_parents(follow_parents and propagate)
        if self._cache is not None:
            if parents:
                metas = await self.backend.aget_many([p.id for p in parents])
                for parent in parents:
                    self._on_parent(parent, metas[parent.id])
            return self.maybe_throw(propagate=propagate, callback=callback)
        index = {p.id: p for p in parents}
        ready = waiter(self.backend).aiter_ready([*index, self.id], timeout, interval, on_interval,
                                                 self._own_messages(on_message, parents))
        try:
            async for task_id, meta in ready:
                if task_id == self.id:
                    self._maybe_set_cache(meta)
                    break
                self._on_parent(index[task_id], meta)
        finally:
            await ready.aclose()
        return self.maybe_throw(propagate=propagate, callback=callback)

    async def arefresh(self) -> Meta:
        """Read the current meta without blocking the loop (kept once ready)."""
        if self._cache is not None:
            return self._cache
        return self._maybe_set_cache(await self.backend.aget_task_meta(self.id))

    async def astate(self) -> str:
        """The asyncio twin of :attr:`state`."""
        return str((await self.arefresh())["status"])

    async def aready(self) -> bool:
        """The asyncio twin of :meth:`ready`."""
        return await self.astate() in states.READY_STATES

    async def aforget(self) -> None:
        """The asyncio twin of :meth:`forget` (runs in a worker thread)."""
        await asyncio.to_thread(self.forget)

    # -- callbacks ---------------------------------------------------------------------
    def then(self, callback: ReadyCallback, on_error: Callable[[BaseException], Any] | None = None,
             weak: bool = False) -> ReadyCallback:
        """Call ``callback(result)`` once this result is observed ready.

        Runs at once when already ready, else from the ``get``/``join``/``ready``
        call that first sees it ready.  If the callback raises, ``on_error``
        gets the exception (without ``on_error`` it propagates).
        """
        if self._cache is not None:
            self._run_callback(callback, on_error)
        else:
            self._callbacks.append((callback, on_error))
        return callback

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback, on_error in callbacks:
            self._run_callback(callback, on_error)

    def _run_callback(self, callback: ReadyCallback,
                      on_error: Callable[[BaseException], Any] | None) -> None:
        try:
            callback(self)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)

    # -- graph ----------------------------------------------------------------------------
    def iterdeps(self, intermediate: bool = False) -> Iterator[tuple[ResultBase | None, ResultBase]]:
        """Breadth-first ``(parent, node)`` over this result and its children tree.

        Raises :class:`IncompleteStream` at a node that is not ready unless ``intermediate``.
        """
        stack: deque[tuple[ResultBase | None, ResultBase]] = deque([(None, self)])
        while stack:
            parent, node = stack.popleft()
            yield parent, node
            if isinstance(node, AsyncResult) and node.ready():
                stack.extend((node, child) for child in node.children or ())
            elif isinstance(node, AsyncResult) and not intermediate:
                raise IncompleteStream(f"Result {node.id} is not ready yet")

    def collect(self, intermediate: bool = False, **kwargs: Any) -> Iterator[tuple[ResultBase, Any]]:
        """Yield ``(result, value)`` for every result in the tree, waiting for each (``get(**kwargs)``)."""
        for _, node in self.iterdeps(intermediate=intermediate):
            yield node, _get(node, **kwargs)

    def get_leaf(self) -> Any:
        """The value of the last result of the tree."""
        value = None
        for _, node in self.iterdeps():
            value = _get(node)
        return value

    def build_graph(self, intermediate: bool = False, formatter: Any = None
                    ) -> DependencyGraph[ResultBase]:
        """The result tree as a :class:`DependencyGraph` (``formatter``: accepted, unused)."""
        graph: DependencyGraph[ResultBase] = DependencyGraph()
        for parent, node in self.iterdeps(intermediate=intermediate):
            graph.add_arc(node)
            if parent is not None:
                graph.add_edge(parent, node)
        return graph

    @cached_property
    def graph(self) -> DependencyGraph[ResultBase]:
        return self.build_graph()

    # -- lifecycle ---------------------------------------------------------------------------
    def forget(self) -> None:
        """Forget this result and its parents' (deletes the stored metas)."""
        self._cache = None
        if self.parent is not None:
            self.parent.forget()
        self.backend.forget(self.id)

    def revoke(self, connection: Any = None, terminate: bool = False, signal: str | None = None,
               wait: bool = False, timeout: float | None = None) -> Any:
        """Ask workers to skip this task, through the ``revoke=`` hook (e.g. ``app.control.revoke``)."""
        if self.revoke_hook is None:
            raise NotSupported(
                "Revoking needs the task queue: build the result with "
                "revoke=app.control.revoke (Celery) or another callable taking the task ids."
            )
        return self.revoke_hook([self.id], connection=connection, terminate=terminate,
                                signal=signal, reply=wait, timeout=timeout)

    # -- identity ------------------------------------------------------------------------------
    def as_tuple(self) -> tuple[tuple[str, Any], None]:
        parent = self.parent
        return (self.id, parent.as_tuple() if parent is not None else None), None

    def as_list(self) -> list[str]:
        """This id followed by the ids of its parents."""
        ids = [self.id]
        if isinstance(self.parent, AsyncResult):
            ids.extend(self.parent.as_list())
        return ids

    def __copy__(self) -> AsyncResult:
        return type(self)(self.id, self.backend, self.parent, revoke=self.revoke_hook)

    def __str__(self) -> str:
        return self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented


def _get(node: ResultBase, **kwargs: Any) -> Any:
    getter = getattr(node, "get", None)
    if getter is None:
        raise TypeError(f"{node!r} cannot be waited for")
    return getter(**kwargs)
