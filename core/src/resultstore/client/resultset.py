"""``ResultSet`` and ``GroupResult``: many results, joined with batched reads.

Every question about the whole set (``ready``, ``completed_count``, ...) costs
one batched read (``get_many``) for the members not yet known to be ready, and
``join_native``/``ajoin``/``iter_ready`` wait for all members at once through
:mod:`resultstore.waiting` (pushed where the store can subscribe).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, overload

from .. import states
from ..errors import DecodeError, ImproperlyConfigured, NotSupported
from ..waiting import OnInterval, OnMessage, waiter
from .blocking import assert_will_not_block
from .result import AsyncResult, Meta, ResultBase, RevokeHook

if TYPE_CHECKING:
    from ..backend import ResultBackend

__all__ = ["ResultSet", "GroupResult"]

ValueCallback = Callable[[str, Any], Any]
SetCallback = Callable[[Any], Any]


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class ResultSet(ResultBase):
    """A list of results (tasks, nested groups) handled as one.

    ``backend`` defaults to the first member's; ``revoke`` is the hook
    :meth:`revoke` calls (e.g. Celery's ``app.control.revoke``).
    """

    def __init__(self, results: Iterable[ResultBase] | None = None,
                 backend: ResultBackend | None = None, *, revoke: RevokeHook | None = None,
                 **kwargs: Any) -> None:
        self.results: list[ResultBase] = (results if isinstance(results, list)
                                          else list(results or ()))
        self._backend = backend
        self.revoke_hook = revoke
        self._callbacks: list[SetCallback] = []

    # -- membership -----------------------------------------------------------------
    @property
    def backend(self) -> ResultBackend:
        """The backend of the set (explicit, else the first member's)."""
        if self._backend is not None:
            return self._backend
        for leaf in self._leaves():
            if leaf.backend is not None:
                return leaf.backend
        raise ImproperlyConfigured("This result set has no backend: pass backend=... or add results.")

    def add(self, result: ResultBase) -> None:
        """Add ``result`` unless it is already a member."""
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: ResultBase | str) -> None:
        """Remove a member (a result or an id); ``KeyError`` if it is not one."""
        try:
            self.results.remove(result)  # type: ignore[arg-type]  # ids compare equal to results
        except ValueError:
            raise KeyError(result)

    def discard(self, result: ResultBase | str) -> None:
        """Remove a member if present."""
        try:
            self.remove(result)
        except KeyError:
            pass

    def update(self, results: Iterable[ResultBase]) -> None:
        """Add every result that is not a member yet."""
        self.results.extend(r for r in results if r not in self.results)

    def clear(self) -> None:
        """Remove every member (the list object is kept)."""
        self.results[:] = []

    def _leaves(self) -> list[AsyncResult]:
        return [leaf for member in self.results for leaf in member._leaves()]

    # -- state (one batched read) ---------------------------------------------------------
    def _snapshot(self) -> dict[str, Meta]:
        """The metas of every leaf: cached ones, the rest in one ``get_many`` per backend."""
        metas: dict[str, Meta] = {}
        unknown: dict[int, list[AsyncResult]] = {}
        for leaf in self._leaves():
            if leaf._cache is not None:
                metas[leaf.id] = leaf._cache
            else:
                unknown.setdefault(id(leaf.backend), []).append(leaf)
        for leaves in unknown.values():
            found = leaves[0].backend.get_many([leaf.id for leaf in leaves])
            for leaf in leaves:
                metas[leaf.id] = leaf._maybe_set_cache(found[leaf.id])
        return metas

    async def _asnapshot(self) -> dict[str, Meta]:
        metas: dict[str, Meta] = {}
        unknown: dict[int, list[AsyncResult]] = {}
        for leaf in self._leaves():
            if leaf._cache is not None:
                metas[leaf.id] = leaf._cache
            else:
                unknown.setdefault(id(leaf.backend), []).append(leaf)
        for leaves in unknown.values():
            found = await leaves[0].backend.aget_many([leaf.id for leaf in leaves])
            for leaf in leaves:
                metas[leaf.id] = leaf._maybe_set_cache(found[leaf.id])
        return metas

    def _all(self, metas: dict[str, Meta], member: ResultBase, wanted: frozenset[str]) -> bool:
        return all(metas[leaf.id]["status"] in wanted for leaf in member._leaves())

    def ready(self) -> bool:
        """True when every member finished."""
        ready = self._all(self._snapshot(), self, states.READY_STATES)
        if ready:
            self._fire()
        return ready

    async def aready(self) -> bool:
        """The asyncio twin of :meth:`ready`."""
        ready = self._all(await self._asnapshot(), self, states.READY_STATES)
        if ready:
            self._fire()
        return ready

    def waiting(self) -> bool:
        """True while any member is not finished."""
        return not self.ready()

    def successful(self) -> bool:
        """True when every member succeeded."""
        return self._all(self._snapshot(), self, frozenset({states.SUCCESS}))

    def failed(self) -> bool:
        """True when any member failed."""
        metas = self._snapshot()
        return any(metas[leaf.id]["status"] == states.FAILURE for leaf in self._leaves())

    def completed_count(self) -> int:
        """How many members succeeded (a nested group counts once, when all of it did)."""
        metas = self._snapshot()
        success = frozenset({states.SUCCESS})
        return sum(1 for member in self.results if self._all(metas, member, success))

    def maybe_throw(self, propagate: bool = True, callback: ValueCallback | None = None) -> None:
        """Raise the first failed member's exception (``propagate``), feeding ``callback``."""
        self._snapshot()
        for result in self.results:
            result.maybe_throw(propagate=propagate, callback=callback)

    maybe_reraise = maybe_throw

    # -- joining ---------------------------------------------------------------------------
    @property
    def supports_native_join(self) -> bool:
        return True

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5,
            callback: ValueCallback | None = None, no_ack: bool = True,
            on_message: OnMessage | None = None, disable_sync_subtasks: bool = True,
            on_interval: OnInterval | None = None) -> list[Any] | None:
        """:meth:`join_native` (API parity with :meth:`AsyncResult.get`)."""
        return self.join_native(timeout, propagate, interval, callback, no_ack, on_message,
                                on_interval, disable_sync_subtasks)

    def join(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5,
             callback: ValueCallback | None = None, no_ack: bool = True,
             on_message: OnMessage | None = None, disable_sync_subtasks: bool = True,
             on_interval: OnInterval | None = None) -> list[Any]:
        """Values of all members in order, waiting for each in turn (Celery's ``join``).

        Members already ready cost one batched read in total.  ``timeout`` is
        for the whole join.  With ``callback(task_id, value)`` nothing is
        collected and ``[]`` is returned.
        """
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.results:
            self._snapshot()
        values = []
        for result in self.results:
            value = _get(result, timeout=_remaining(deadline), propagate=propagate,
                         interval=interval, on_message=on_message, on_interval=on_interval,
                         disable_sync_subtasks=disable_sync_subtasks)
            if callback is not None:
                callback(_id_of(result), value)
            else:
                values.append(value)
        self._fire()
        return values

    def iter_native(self, timeout: float | None = None, interval: float = 0.5, no_ack: bool = True,
                    on_message: OnMessage | None = None, on_interval: OnInterval | None = None
                    ) -> Iterator[tuple[str, Meta]]:
        """``(task_id, meta)`` for each leaf task as it finishes (one batched read per pass)."""
        leaves = [leaf for leaf in self._leaves() if leaf.backend is not None]
        return waiter(self.backend).iter_ready([leaf.id for leaf in leaves], timeout, interval,
                                               on_interval, on_message)

    def iter_ready(self, timeout: float | None = None, interval: float = 0.5,
                   on_interval: OnInterval | None = None) -> Iterator[AsyncResult]:
        """Yield each leaf result as it finishes (completion order; known ones first)."""
        known, by_backend = self._pending_by_backend()
        yield from known
        deadline = None if timeout is None else time.monotonic() + timeout
        for backend, by_id in by_backend:
            ready = waiter(backend).iter_ready(list(by_id), _remaining(deadline), interval,
                                               on_interval)
            try:
                for task_id, meta in ready:
                    yield from self._settle(by_id[task_id], meta)
            finally:
                ready.close()

    async def aiter_ready(self, timeout: float | None = None, interval: float = 0.5
                          ) -> AsyncIterator[AsyncResult]:
        """``async for r in group.aiter_ready()``: each leaf result as it finishes."""
        known, by_backend = self._pending_by_backend()
        for result in known:
            yield result
        deadline = None if timeout is None else time.monotonic() + timeout
        for backend, by_id in by_backend:
            ready = waiter(backend).aiter_ready(list(by_id), _remaining(deadline), interval)
            try:
                async for task_id, meta in ready:
                    for result in self._settle(by_id[task_id], meta):
                        yield result
            finally:
                await ready.aclose()

    def _pending_by_backend(self) -> tuple[list[AsyncResult],
                                           list[tuple[ResultBackend, dict[str, list[AsyncResult]]]]]:
        """Leaves already finished, and the others grouped by backend then id."""
        known: list[AsyncResult] = []
        seen: set[str] = set()
        groups: dict[int, tuple[ResultBackend, dict[str, list[AsyncResult]]]] = {}
        for leaf in self._leaves():
            if leaf._cache is not None:
                if leaf.id not in seen:
                    known.append(leaf)
                seen.add(leaf.id)
                continue
            backend = leaf.backend
            groups.setdefault(id(backend), (backend, {}))[1].setdefault(leaf.id, []).append(leaf)
        return known, list(groups.values())

    @staticmethod
    def _settle(results: list[AsyncResult], meta: Meta) -> list[AsyncResult]:
        for result in results:
            result._maybe_set_cache(meta)
        return results[:1]

    def _plan(self) -> tuple[dict[str, list[int]], list[int]]:
        """Positions of members joined natively (tasks of this backend) and of the others."""
        native: dict[str, list[int]] = {}
        other = []
        backend = self._join_backend()
        for position, member in enumerate(self.results):
            if (isinstance(member, AsyncResult) and member._cache is None
                    and member.backend is backend):
                native.setdefault(member.id, []).append(position)
            else:
                other.append(position)
        return native, other

    def _join_backend(self) -> ResultBackend | None:
        """The backend waited on natively: the set's, else the first unfinished member's."""
        if self._backend is not None:
            return self._backend
        for leaf in self._leaves():
            if leaf._cache is None:
                return leaf.backend
        return None

    def _take(self, positions: list[int], meta: Meta, propagate: bool) -> Any:
        for position in positions:
            member = self.results[position]
            assert isinstance(member, AsyncResult)
            member._maybe_set_cache(meta)
        first = self.results[positions[0]]
        return first.maybe_throw(propagate=propagate)

    def join_native(self, timeout: float | None = None, propagate: bool = True,
                    interval: float = 0.5, callback: ValueCallback | None = None,
                    no_ack: bool = True, on_message: OnMessage | None = None,
                    on_interval: OnInterval | None = None, disable_sync_subtasks: bool = True
                    ) -> list[Any] | None:
        """Values of all members in order, waiting for all at once.

        One batched read per pass (a single one when everything is ready),
        pushed where the store can subscribe.  A failure raises as soon as it
        arrives (``propagate``).  With ``callback(task_id, value)`` values are
        passed in completion order and ``None`` is returned (as Celery).
        """
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        acc: list[Any] = [None] * len(self.results)
        native, other = self._plan()
        backend = self._join_backend()
        if native and backend is not None:
            ready = waiter(backend).iter_ready(list(native), timeout, interval, on_interval,
                                                    on_message)
            try:
                for task_id, meta in ready:
                    value = self._take(native[task_id], meta, propagate)
                    self._deliver(acc, native[task_id], task_id, value, callback)
            finally:
                ready.close()
        for position in other:
            member = self.results[position]
            value = _get(member, timeout=_remaining(deadline), propagate=propagate,
                         interval=interval, on_interval=on_interval,
                         disable_sync_subtasks=disable_sync_subtasks)
            self._deliver(acc, [position], _id_of(member), value, callback)
        self._fire()
        return None if callback is not None else acc

    async def ajoin(self, timeout: float | None = None, propagate: bool = True,
                    interval: float = 0.5, callback: ValueCallback | None = None,
                    on_message: OnMessage | None = None, on_interval: OnInterval | None = None,
                    disable_sync_subtasks: bool = True) -> list[Any] | None:
        """The asyncio twin of :meth:`join_native`; never blocks the event loop."""
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        acc: list[Any] = [None] * len(self.results)
        native, other = self._plan()
        backend = self._join_backend()
        if native and backend is not None:
            ready = waiter(backend).aiter_ready(list(native), timeout, interval, on_interval,
                                                     on_message)
            try:
                async for task_id, meta in ready:
                    value = self._take(native[task_id], meta, propagate)
                    self._deliver(acc, native[task_id], task_id, value, callback)
            finally:
                await ready.aclose()
        for position in other:
            member = self.results[position]
            value = await _aget(member, timeout=_remaining(deadline), propagate=propagate,
                                interval=interval, disable_sync_subtasks=disable_sync_subtasks)
            self._deliver(acc, [position], _id_of(member), value, callback)
        self._fire()
        return None if callback is not None else acc

    aget = ajoin

    @staticmethod
    def _deliver(acc: list[Any], positions: list[int], task_id: str, value: Any,
                 callback: ValueCallback | None) -> None:
        if callback is not None:
            callback(task_id, value)
            return
        for position in positions:
            acc[position] = value

    # -- callbacks and lifecycle ------------------------------------------------------------
    def then(self, callback: SetCallback, on_error: Callable[[BaseException], Any] | None = None,
             weak: bool = False) -> SetCallback:
        """Call ``callback(self)`` once every member is observed ready (by a join or ``ready()``)."""
        self._callbacks.append(callback)
        return callback

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def forget(self) -> None:
        """Forget every member's result."""
        for result in self.results:
            result.forget()

    def revoke(self, connection: Any = None, terminate: bool = False, signal: str | None = None,
               wait: bool = False, timeout: float | None = None) -> Any:
        """Revoke every member through the ``revoke=`` hook (e.g. ``app.control.revoke``)."""
        if self.revoke_hook is None:
            raise NotSupported(
                "Revoking needs the task queue: build the set with revoke=app.control.revoke "
                "(Celery) or another callable taking the task ids."
            )
        return self.revoke_hook([leaf.id for leaf in self._leaves()], connection=connection,
                                terminate=terminate, signal=signal, reply=wait, timeout=timeout)

    # -- container ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ResultBase]:
        return iter(self.results)

    @overload
    def __getitem__(self, index: int) -> ResultBase: ...

    @overload
    def __getitem__(self, index: slice) -> list[ResultBase]: ...

    def __getitem__(self, index: int | slice) -> ResultBase | list[ResultBase]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSet):
            return other.results == self.results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as Celery's

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(_id_of(r) for r in self.results)}]>"


class GroupResult(ResultSet):
    """A :class:`ResultSet` with an id, that can be saved and restored (Celery's ``group``)."""

    def __init__(self, id: str | None = None, results: Iterable[ResultBase] | None = None,
                 parent: ResultBase | None = None, backend: ResultBackend | None = None, *,
                 revoke: RevokeHook | None = None, **kwargs: Any) -> None:
        super().__init__(results, backend, revoke=revoke)
        self.id = id
        self.parent = parent

    @property
    def children(self) -> list[ResultBase]:
        return self.results

    def _require_id(self) -> str:
        if not self.id:
            raise ImproperlyConfigured("This GroupResult has no id, so it cannot be saved.")
        return self.id

    def save(self, backend: ResultBackend | None = None) -> GroupResult:
        """Store the group (``celery-taskset-meta-<id>``) for :meth:`restore`."""
        (backend or self.backend).save_group(self._require_id(), self)
        return self

    def delete(self, backend: ResultBackend | None = None) -> None:
        """Remove the saved group."""
        (backend or self.backend).delete_group(self._require_id())

    @classmethod
    def restore(cls, id: str, backend: ResultBackend | None = None, *,
                revoke: RevokeHook | None = None) -> GroupResult | None:
        """The saved group ``id`` (members, nested groups and parents rebuilt), or ``None``."""
        if backend is None:
            raise ImproperlyConfigured("GroupResult.restore(id, backend=...) needs a backend.")
        meta = backend.get_group_meta(id)
        if meta is None:
            return None
        from .tuples import result_from_tuple

        value = meta.get("result") if isinstance(meta, dict) else None
        restored = value if isinstance(value, ResultBase) else (
            result_from_tuple(value, backend, revoke=revoke) if value is not None else None)
        if not isinstance(restored, GroupResult):
            raise DecodeError(f"Saved group {id!r} does not hold a group: {value!r:.200}")
        return restored

    async def asave(self, backend: ResultBackend | None = None) -> GroupResult:
        """The asyncio twin of :meth:`save` (runs in a worker thread)."""
        return await asyncio.to_thread(self.save, backend)

    async def adelete(self, backend: ResultBackend | None = None) -> None:
        await asyncio.to_thread(self.delete, backend)

    @classmethod
    async def arestore(cls, id: str, backend: ResultBackend | None = None, *,
                       revoke: RevokeHook | None = None) -> GroupResult | None:
        """The asyncio twin of :meth:`restore` (runs in a worker thread)."""
        return await asyncio.to_thread(lambda: cls.restore(id, backend, revoke=revoke))

    def as_tuple(self) -> tuple[tuple[str | None, Any], list[Any]]:
        parent = self.parent
        return ((self.id, parent.as_tuple() if parent is not None else None),
                [r.as_tuple() for r in self.results])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return (other.id == self.id and other.results == self.results
                    and other.parent == self.parent)
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.id)

    def __bool__(self) -> bool:
        return bool(self.id or self.results)

    def __str__(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__}: {self.id} "
                f"[{', '.join(_id_of(r) for r in self.results)}]>")


def _id_of(result: ResultBase) -> str:
    return str(getattr(result, "id", None))


def _get(result: ResultBase, **kwargs: Any) -> Any:
    if isinstance(result, ResultSet):
        kwargs.pop("on_message", None)
        return result.join_native(**kwargs)
    if isinstance(result, AsyncResult):
        return result.get(**kwargs)
    raise TypeError(f"{result!r} cannot be joined")


async def _aget(result: ResultBase, **kwargs: Any) -> Any:
    if isinstance(result, ResultSet):
        return await result.ajoin(**kwargs)
    if isinstance(result, AsyncResult):
        return await result.aget(**kwargs)
    raise TypeError(f"{result!r} cannot be joined")
