"""Waiting for results: pushed where the store can subscribe, batched polling otherwise.

One :class:`Waiter` per backend (``waiter(backend)``) serves every wait of the
process, from threads and from any number of asyncio loops::

    meta = waiter(backend).wait(task_id, timeout=10)
    for task_id, meta in waiter(backend).iter_ready(ids, timeout=30):
        ...
    meta = await waiter(backend).await_one(task_id, timeout=10)
    async for task_id, meta in waiter(backend).aiter_ready(ids):
        ...

Every wait starts with one batched read (``get_many``); ready results return
at once, without touching the push channel.  For the rest:

* **push** (store declares ``Capability.SUBSCRIBE``): one shared
  ``store.subscriber(...)`` per backend.  A key is subscribed while at least one
  wait needs it and unsubscribed when the last one ends.  After subscribing the
  waiter reads the keys once more (a value written between the first read and
  the subscription is not missed), and after a reconnect it re-reads every
  waited key with one ``get_many``.  Asyncio waits never call the subscriber on
  the loop: subscription changes are batched on a short-lived helper thread and
  results are handed to the loop with ``call_soon_threadsafe``.
* **poll**: one ``get_many`` per pass over the ids still pending, sleeping
  ``interval`` first and backing off by 1.5x up to the
  ``resultstore_poll_interval_max`` setting.  If the push channel fails, the
  affected waits fall back to polling instead of hanging.

No state outlives a wait: finished waits leave nothing behind in the waiter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any

from . import states
from .errors import NotSupported, TimeoutError
from .hooks import has_listeners, observing
from .keys import RECORDS
from .spec import Capability, KeyValueStore, MetaStore, Subscriber

if TYPE_CHECKING:
    from .backend import ResultBackend

__all__ = ["Waiter", "waiter", "OnMessage", "OnInterval"]

logger = logging.getLogger(__name__)

Meta = dict[str, Any]
#: Called with every new state a wait observes (pushed or polled; never PENDING, as Celery).
OnMessage = Callable[[Meta], Any]
#: Called once per pass of a wait (at least every ``interval`` seconds), also after the pass
#: that saw the last id ready, but not when every id was ready at the first read (as Celery).
OnInterval = Callable[[], Any]
#: Called with ``(task_id, old_state_or_None, new_state)``.
OnChange = Callable[[str, "str | None", str], None]

_READY = states.READY_STATES
_BACKOFF = 1.5
_MIN_DELAY = 0.001
#: Seconds the subscription helper thread stays around after its last job.
_LINGER = 2.0
_CREATE_LOCK = threading.Lock()


#: Every live waiter, so a forked child can reset them (see ``_after_fork``).
_WAITERS: weakref.WeakSet[Waiter] = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child the parent's subscriber thread and waits do not exist: start afresh.

    The inherited subscriber is dropped, not closed: its connection is the parent's.
    """
    for found in list(_WAITERS):
        found._init_state()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def waiter(backend: ResultBackend) -> Waiter:
    """The :class:`Waiter` of ``backend`` (created once, thread-safely, and cached on it)."""
    found: Waiter | None = backend.__dict__.get("_waiter")
    if found is None:
        with _CREATE_LOCK:
            found = backend.__dict__.get("_waiter")
            if found is None:
                found = Waiter(backend)
                backend._waiter = found  # type: ignore[attr-defined]
    return found


def _timeout_error(timeout: float | None, pending: Iterable[str]) -> TimeoutError:
    ids = sorted(pending)
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return TimeoutError(f"The operation timed out after {timeout}s waiting for {shown}.")


class _Watch:
    """One running wait: the ids it waits for; receives ``(task_id, meta)`` pushes."""

    __slots__ = ("ids", "polling")

    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = ids
        self.polling = False

    def push(self, task_id: str, meta: Meta) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """The push channel failed for this wait: poll from now on."""
        self.polling = True
        self.wake()

    def wake(self) -> None:
        raise NotImplementedError


class _SyncWatch(_Watch):
    __slots__ = ("queue",)

    def __init__(self, ids: frozenset[str]) -> None:
        super().__init__(ids)
        self.queue: SimpleQueue[tuple[str, Meta] | None] = SimpleQueue()

    def push(self, task_id: str, meta: Meta) -> None:
        self.queue.put((task_id, meta))

    def wake(self) -> None:
        self.queue.put(None)

    def take(self, timeout: float | None) -> list[tuple[str, Meta]]:
        """Block up to ``timeout`` for the first item, then return everything queued."""
        items: list[tuple[str, Meta]] = []
        try:
            first = (self.queue.get_nowait() if timeout is not None and timeout <= 0
                     else self.queue.get(timeout=timeout))
        except Empty:
            return items
        while True:
            if first is not None:
                items.append(first)
            try:
                first = self.queue.get_nowait()
            except Empty:
                return items


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _AsyncWatch(_Watch):
    __slots__ = ("items", "loop", "waker")

    def __init__(self, ids: frozenset[str], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(ids)
        self.loop = loop
        self.items: deque[tuple[str, Meta]] = deque()
        self.waker: asyncio.Future[None] | None = None

    def push(self, task_id: str, meta: Meta) -> None:
        self.items.append((task_id, meta))
        self.wake()

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._wake_on_loop)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _wake_on_loop(self) -> None:
        if self.waker is not None:
            _resolve(self.waker)

    async def take(self, timeout: float | None) -> list[tuple[str, Meta]]:
        """Await up to ``timeout`` for the first item, then return everything queued."""
        if not self.items and (timeout is None or timeout > 0):
            fut = self.waker = self.loop.create_future()
            handle = None if timeout is None else self.loop.call_later(timeout, _resolve, fut)
            try:
                await fut
            finally:
                self.waker = None
                if handle is not None:
                    handle.cancel()
        items = []
        while self.items:
            items.append(self.items.popleft())
        return items


class _ReadBatch:
    """The ids asyncio waits of one loop iteration read together, and the shared outcome."""

    __slots__ = ("future", "ids")

    def __init__(self, future: asyncio.Future[dict[str, Meta]]) -> None:
        self.future = future
        self.ids: dict[str, None] = {}


class _Pass:
    """The bookkeeping of one wait, shared by the sync and asyncio loops."""

    __slots__ = ("cap", "deadline", "delay", "interval", "on_change", "on_message", "pending", "seen",
                 "states", "timeout")

    def __init__(self, ids: list[str], timeout: float | None, interval: float, cap: float,
                 on_message: OnMessage | None, on_change: OnChange | None = None) -> None:
        self.pending = set(ids)
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.interval = max(float(interval), _MIN_DELAY)
        self.delay = self.interval
        self.cap = max(self.interval, cap)
        self.on_message = on_message
        self.seen: dict[str, tuple[Any, ...]] = {}
        #: ``(task_id, old, new)`` on every state this wait observes change (hook listeners only).
        self.on_change = on_change
        self.states: dict[str, str] = {}

    def ready(self, items: Iterable[tuple[str, Meta]]) -> list[tuple[str, Meta]]:
        """The newly ready ``(id, meta)`` among ``items``, each id once; feeds ``on_message``."""
        out = []
        for task_id, meta in items:
            if task_id not in self.pending:
                continue
            if self.on_message is not None:
                self._message(task_id, meta)
            if self.on_change is not None:
                self._changed(task_id, str(meta.get("status")))
            if meta.get("status") in _READY:
                self.pending.discard(task_id)
                out.append((task_id, meta))
        return out

    def _changed(self, task_id: str, status: str) -> None:
        assert self.on_change is not None
        old = self.states.get(task_id)
        if old != status:
            self.states[task_id] = status
            self.on_change(task_id, old, status)

    def _message(self, task_id: str, meta: Meta) -> None:
        """Hand ``on_message`` each new state, as Celery's result consumer: never PENDING.

        Each state is delivered once, whether it was pushed, read, or re-read
        after subscribing (a re-read repeats what the first read saw).
        """
        assert self.on_message is not None
        status = meta.get("status")
        if status == states.PENDING:
            return
        seen = (status, repr(meta.get("result")))
        if self.seen.get(task_id) == seen:
            return
        self.seen[task_id] = seen
        self.on_message(meta)

    def tick(self, polling: bool, on_interval: OnInterval | None) -> float | None:
        """How long to block now; raise ``TimeoutError`` once the deadline has passed."""
        left = None if self.deadline is None else self.deadline - time.monotonic()
        if left is not None and left <= 0:
            raise _timeout_error(self.timeout, self.pending)
        tick = self.delay if polling else (self.interval if on_interval is not None else None)
        if left is not None:
            tick = left if tick is None else min(tick, left)
        return tick

    def backoff(self) -> None:
        self.delay = min(self.delay * _BACKOFF, self.cap)


class Waiter:
    """Waits for task results of one backend; see the module docstring."""

    def __init__(self, backend: ResultBackend) -> None:
        self.backend = backend
        store = backend.store
        #: True when waits are pushed by the store's subscriber.
        self.push = (isinstance(store, (KeyValueStore, MetaStore))
                     and Capability.SUBSCRIBE in backend.capabilities)
        #: Key/value subscribers are addressed by key; record stores' by task id (meta dicts).
        self._by_key = isinstance(store, KeyValueStore)
        #: Upper bound of the polling backoff (``resultstore_poll_interval_max``).
        self.poll_cap = float(backend.settings["resultstore_poll_interval_max"])
        #: Reports observed state changes to ``resultstore_state_changed`` hooks, if any listen.
        self.on_change: OnChange | None = (
            self._state_changed if has_listeners(backend.hooks, "resultstore_state_changed") else None)
        #: True when some ``resultstore_operation`` hook observes waits.
        self.observe = has_listeners(backend.hooks, "resultstore_operation")
        self._init_state()
        _WAITERS.add(self)

    def _state_changed(self, task_id: str, old: str | None, new: str) -> None:
        self.backend.hooks.hook.resultstore_state_changed(task_id=task_id, old=old, new=new)

    def _init_state(self) -> None:
        """Fresh locks and bookkeeping (at creation, and in a forked child)."""
        self._lock = threading.Lock()
        self._watches: dict[str, list[_Watch]] = {}
        self._sub_lock = threading.Lock()
        self._subscriber: Subscriber | None = None
        self._subscribed: set[str] = set()
        self._queued: list[tuple[frozenset[str], bool]] = []
        # loops with a kick pending (weakly: a loop that dies before its kick is forgotten)
        self._kicks: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._wakeup = threading.Condition(self._lock)
        self._flushing = False
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._wake_lock = threading.Lock()
        self._wakes: dict[asyncio.AbstractEventLoop, list[_AsyncWatch]] = {}
        self._reads: dict[asyncio.AbstractEventLoop, _ReadBatch] = {}
        self._read_tasks: set[asyncio.Task[None]] = set()

    # -- sync --------------------------------------------------------------------
    def wait(self, task_id: str, timeout: float | None = None, interval: float = 0.5,
             on_interval: OnInterval | None = None, on_message: OnMessage | None = None) -> Meta:
        """Block until ``task_id`` is ready and return its meta; ``TimeoutError`` after ``timeout``."""
        if self.observe:
            with observing(self.backend.hooks, self.backend, "wait", str(task_id)):
                return self._wait(task_id, timeout, interval, on_interval, on_message)
        return self._wait(task_id, timeout, interval, on_interval, on_message)

    def _wait(self, task_id: str, timeout: float | None, interval: float,
              on_interval: OnInterval | None, on_message: OnMessage | None) -> Meta:
        ready = self.iter_ready([task_id], timeout, interval, on_interval, on_message)
        try:
            for _, meta in ready:
                return meta
        finally:
            ready.close()
        raise AssertionError("unreachable: iter_ready yields every id or raises")

    def iter_ready(self, task_ids: Iterable[str], timeout: float | None = None,
                   interval: float = 0.5, on_interval: OnInterval | None = None,
                   on_message: OnMessage | None = None) -> Generator[tuple[str, Meta], None, None]:
        """Yield ``(task_id, meta)`` for each id once it is ready, in completion order.

        Ids ready at the first (batched) read come first, in the given order.
        ``TimeoutError`` when ``timeout`` seconds pass with ids still pending.
        """
        ids = list(dict.fromkeys(str(t) for t in task_ids))
        if not ids:
            return
        state = _Pass(ids, timeout, interval, self.poll_cap, on_message, self.on_change)
        metas = self.backend.get_many(ids)
        yield from state.ready((t, metas[t]) for t in ids)
        if not state.pending:
            return
        watch = _SyncWatch(frozenset(state.pending))
        push = self.push
        if push:
            self._register(watch)
        try:
            if push:
                self._subscribe(watch.ids, reread=True)
            while state.pending:
                polling = watch.polling or not push
                items = watch.take(state.tick(polling, on_interval))
                if (watch.polling or not push) and state.pending:
                    items.extend(self.backend.get_many(sorted(state.pending)).items())
                    state.backoff()
                ready = state.ready(items)
                if on_interval is not None:  # after every pass, the last one too (Celery's drain
                    on_interval()            # loop: a chord header's failure wins over the body's)
                yield from ready
        finally:
            if push:
                freed = self._unregister(watch)
                if freed:
                    self._release(freed)

    # -- asyncio -----------------------------------------------------------------
    async def await_one(self, task_id: str, timeout: float | None = None, interval: float = 0.5,
                        on_interval: OnInterval | None = None,
                        on_message: OnMessage | None = None) -> Meta:
        """The asyncio twin of :meth:`wait`; never blocks the event loop."""
        if self.observe:
            with observing(self.backend.hooks, self.backend, "wait", str(task_id)):
                return await self._await_one(task_id, timeout, interval, on_interval, on_message)
        return await self._await_one(task_id, timeout, interval, on_interval, on_message)

    async def _await_one(self, task_id: str, timeout: float | None, interval: float,
                         on_interval: OnInterval | None, on_message: OnMessage | None) -> Meta:
        ready = self.aiter_ready([task_id], timeout, interval, on_interval, on_message)
        try:
            async for _, meta in ready:
                return meta
        finally:
            await ready.aclose()
        raise AssertionError("unreachable: aiter_ready yields every id or raises")

    async def aiter_ready(self, task_ids: Iterable[str], timeout: float | None = None,
                          interval: float = 0.5, on_interval: OnInterval | None = None,
                          on_message: OnMessage | None = None
                          ) -> AsyncGenerator[tuple[str, Meta], None]:
        """The asyncio twin of :meth:`iter_ready` (native reads where the store has AIO)."""
        ids = list(dict.fromkeys(str(t) for t in task_ids))
        if not ids:
            return
        state = _Pass(ids, timeout, interval, self.poll_cap, on_message, self.on_change)
        metas = await self._aread(ids)
        for item in state.ready((t, metas[t]) for t in ids):
            yield item
        if not state.pending:
            return
        watch = _AsyncWatch(frozenset(state.pending), asyncio.get_running_loop())
        push = self.push
        if push:
            self._register(watch)
            self._enqueue(watch.ids, True, watch.loop)
        try:
            while state.pending:
                polling = watch.polling or not push
                items = await watch.take(state.tick(polling, on_interval))
                if (watch.polling or not push) and state.pending:
                    items.extend((await self._aread(sorted(state.pending))).items())
                    state.backoff()
                ready = state.ready(items)
                if on_interval is not None:  # as in iter_ready
                    on_interval()
                for item in ready:
                    yield item
        finally:
            if push:
                freed = self._unregister(watch)
                if freed:
                    self._enqueue(freed, False, watch.loop)

    async def _aread(self, task_ids: list[str]) -> dict[str, Meta]:
        """Read metas with ``aget_many``, sharing one read among the waits of a loop iteration.

        10,000 waits started together cost one batched read instead of 10,000
        (and one connection instead of a pool's worth).
        """
        loop = asyncio.get_running_loop()
        batch = self._reads.get(loop)
        if batch is None:
            batch = self._reads[loop] = _ReadBatch(loop.create_future())
            loop.call_soon(self._start_read, loop)
        batch.ids.update(dict.fromkeys(task_ids))
        metas = await asyncio.shield(batch.future)
        return {task_id: metas[task_id] for task_id in task_ids}

    def _start_read(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._reads.pop(loop)
        task = loop.create_task(self._run_read(batch))
        self._read_tasks.add(task)  # the loop only keeps weak references to tasks
        task.add_done_callback(self._read_tasks.discard)

    async def _run_read(self, batch: _ReadBatch) -> None:
        try:
            metas = await self.backend.aget_many(list(batch.ids))
        except asyncio.CancelledError:
            batch.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every wait sharing the read raises it
            batch.future.set_exception(exc)
            batch.future.exception()  # retrieved by the waits; never "exception never retrieved"
        else:
            batch.future.set_result(metas)

    # -- registry ----------------------------------------------------------------
    @property
    def waited(self) -> frozenset[str]:
        """Task ids some wait is currently waiting for (push mode)."""
        with self._lock:
            return frozenset(self._watches)

    @property
    def subscribed(self) -> frozenset[str]:
        """Task ids currently subscribed on the shared push channel."""
        with self._sub_lock:
            return frozenset(self._subscribed)

    def _register(self, watch: _Watch) -> None:
        with self._lock:
            for task_id in watch.ids:
                self._watches.setdefault(task_id, []).append(watch)

    def _unregister(self, watch: _Watch) -> list[str]:
        """Remove ``watch``; return the ids nobody waits for any more."""
        freed = []
        with self._lock:
            for task_id in watch.ids:
                watches = self._watches.get(task_id)
                if watches is None:
                    continue
                if watch in watches:
                    watches.remove(watch)
                if not watches:
                    del self._watches[task_id]
                    freed.append(task_id)
            if not self._watches:
                self._watches = {}  # a dict never shrinks its table; start afresh
        return freed

    def _watches_of(self, task_id: str) -> tuple[_Watch, ...]:
        with self._lock:
            return tuple(self._watches.get(task_id, ()))

    def _dispatch(self, metas: dict[str, Meta]) -> None:
        with self._lock:
            items = [(watch, task_id, meta) for task_id, meta in metas.items()
                     for watch in self._watches.get(task_id, ())]
        self._deliver(items)

    def _deliver(self, items: Iterable[tuple[_Watch, str, Meta]]) -> None:
        """Hand metas to their watches; an asyncio loop is woken once per burst, not per meta."""
        schedule = []
        for watch, task_id, meta in items:
            if not isinstance(watch, _AsyncWatch):
                watch.push(task_id, meta)
                continue
            watch.items.append((task_id, meta))
            with self._wake_lock:
                pending = self._wakes.get(watch.loop)
                if pending is None:
                    self._wakes[watch.loop] = [watch]
                    schedule.append(watch.loop)
                else:
                    pending.append(watch)
        for loop in schedule:
            try:
                loop.call_soon_threadsafe(self._wake_loop, loop)
            except RuntimeError:  # the loop is closed: nobody waits any more
                with self._wake_lock:
                    self._wakes.pop(loop, None)

    def _wake_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._wake_lock:
            watches = self._wakes.pop(loop, ())
        for watch in watches:
            watch._wake_on_loop()

    def _degrade(self, task_ids: Iterable[str], exc: BaseException) -> None:
        if isinstance(exc, NotSupported):  # probed when opened: this deployment cannot push
            self.push = False
            logger.info("resultstore: %r cannot push (%s); waits poll", self.backend, exc)
        else:
            logger.warning("resultstore: push channel of %r failed (%s: %s); polling instead",
                           self.backend, type(exc).__name__, exc)
        with self._lock:
            watches = {w for t in task_ids for w in self._watches.get(t, ())}
        for watch in watches:
            watch.poll()

    # -- subscription --------------------------------------------------------------
    def _reconcile(self, task_ids: Iterable[str]) -> None:
        """Subscribe the ids somebody waits for, unsubscribe the others (serialized)."""
        keys = self.backend.keys
        with self._sub_lock:
            with self._lock:
                want = [t for t in task_ids if t in self._watches and t not in self._subscribed]
                drop = [t for t in task_ids if t not in self._watches and t in self._subscribed]
            subscriber = self._subscriber
            if subscriber is None:
                if not want or self._closed:
                    return
                store = self.backend.store
                assert isinstance(store, (KeyValueStore, MetaStore))
                subscriber = self._subscriber = store.subscriber(
                    self._on_message if self._by_key else self._on_meta,  # type: ignore[arg-type]
                    self._on_reconnect)
            channel = keys.task if self._by_key else str
            for task_id in drop:
                self._subscribed.discard(task_id)
                subscriber.unsubscribe(channel(task_id))
            for task_id in want:
                subscriber.subscribe(channel(task_id))
                self._subscribed.add(task_id)
            if not self._subscribed:
                self._subscribed = set()

    def _reread(self, task_ids: Iterable[str]) -> None:
        with self._lock:
            ids = [t for t in task_ids if t in self._watches]
        if ids:
            self._dispatch(self.backend.get_many(ids))

    def _subscribe(self, task_ids: frozenset[str], reread: bool) -> None:
        """Subscribe (then re-read) on the calling thread; degrade to polling on failure."""
        try:
            self._reconcile(task_ids)
            if reread:
                self._reread(task_ids)
        except Exception as exc:  # noqa: BLE001 - any channel failure means "poll instead"
            self._degrade(task_ids, exc)

    def _release(self, task_ids: list[str]) -> None:
        try:
            self._reconcile(task_ids)
        except Exception as exc:  # noqa: BLE001 - the wait is over; never mask its outcome
            logger.warning("resultstore: unsubscribing failed: %s: %s", type(exc).__name__, exc)

    def _enqueue(self, task_ids: Iterable[str], reread: bool,
                 loop: asyncio.AbstractEventLoop) -> None:
        """Queue subscription changes for the helper thread (asyncio callers never block).

        The helper is kicked once per loop iteration, so a burst of waits
        started together is subscribed (and re-read) as one batch.
        """
        with self._lock:
            self._queued.append((frozenset(task_ids), reread))
            self._idle.clear()
            if loop in self._kicks:
                return
            self._kicks.add(loop)
        loop.call_soon(self._kick, loop)

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._kicks.discard(loop)
            if self._flushing:
                self._wakeup.notify()
                return
            self._flushing = True
        threading.Thread(target=self._flush, name="resultstore-waiter", daemon=True).start()

    def _flush(self) -> None:
        """The helper thread: apply queued changes; exit after ``_LINGER`` idle seconds."""
        while True:
            with self._lock:
                if not self._queued:
                    self._idle.set()
                    self._wakeup.wait(_LINGER)
                batch, self._queued = self._queued, []
                if not batch:
                    self._flushing = False
                    return
            subscribe: set[str] = set()
            released: set[str] = set()
            for ids, wants_read in batch:
                (subscribe if wants_read else released).update(ids)
            if subscribe:
                self._subscribe(frozenset(subscribe), reread=True)
            if released:
                self._release(sorted(released))
            del batch, subscribe, released  # hold nothing while lingering

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until queued subscription changes are applied; True if they were."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self._idle.wait(left):
                return False
            with self._lock:
                if not self._queued and not self._kicks:
                    return True
            if left == 0:
                return False
            time.sleep(0.001)

    # -- callbacks from the store's subscriber ---------------------------------------
    def _on_message(self, key: str, value: bytes) -> None:
        task_id = self.backend.keys.task_id_of(key)
        if task_id is None:
            return
        watches = self._watches_of(task_id)
        if not watches:
            return
        try:
            meta = self.backend.codec.decode_meta(value, RECORDS.task(task_id))
            meta = self.backend._fetched(task_id, meta, True)
        except Exception as exc:  # noqa: BLE001 - let the waits read it and raise properly
            self._degrade([task_id], exc)
            return
        self._deliver((watch, task_id, meta) for watch in watches)

    def _on_meta(self, task_id: str, stored: dict[str, Any]) -> None:
        """A record store's subscriber: the stored meta of ``task_id`` (exceptions as stored)."""
        watches = self._watches_of(task_id)
        if not watches:
            return
        try:
            meta = self.backend._fetched(task_id, self.backend.codec.meta_from_decoded(dict(stored)),
                                         True)
        except Exception as exc:  # noqa: BLE001 - let the waits read it and raise properly
            self._degrade([task_id], exc)
            return
        self._deliver((watch, task_id, meta) for watch in watches)

    def _on_reconnect(self) -> None:
        with self._lock:
            ids = list(self._watches)
        if not ids:
            return
        try:
            metas = self.backend.get_many(ids)
        except Exception as exc:  # noqa: BLE001 - still down: the waits poll until it is back
            self._degrade(ids, exc)
            return
        self._dispatch(metas)

    def close(self) -> None:
        """Close the push channel; running waits continue by polling."""
        with self._sub_lock:
            subscriber, self._subscriber = self._subscriber, None
            self._subscribed = set()
            self._closed = True
        if subscriber is not None:
            subscriber.close()
        self.push = False
        with self._lock:
            watches = {w for ws in self._watches.values() for w in ws}
        for watch in watches:
            watch.poll()

    def __repr__(self) -> str:
        mode = "push" if self.push else "poll"
        return f"<Waiter {mode} {self.backend.as_uri()} waits={len(self._watches)}>"

