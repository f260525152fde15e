"""The client kit: result objects and waiting, on any store.

Inherit and provide the same ``make_backend`` fixture as
:class:`~resultstore.testing.ConformanceSuite`::

    from resultstore.testing.client_suite import ClientSuite

    class TestRedisClient(ClientSuite):
        @pytest.fixture
        def make_backend(self, redis_url): ...

Tests of push behaviour are skipped by declaration on stores without
``Capability.SUBSCRIBE``; everything else runs everywhere.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import inspect
import io
import os
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import pytest

from .. import states
from ..backend import ResultBackend
from ..client import (
    AsyncResult,
    EagerResult,
    GroupResult,
    IncompleteStream,
    ResultSet,
    allow_join_result,
    chord_join,
    denied_join_result,
    result_from_tuple,
)
from ..errors import ChordError, DecodeError, NotSupported, TimeoutError
from ..spec import Capability, KeyValueStore, MetaStore
from ..waiting import waiter
from .faults import CallCounter, FlakyStore
from .kit import BackendKit, MakeBackend, requires

__all__ = ["ClientSuite", "ClientKitError", "spy_subscriber"]



class ClientKitError(Exception):
    """Raised by "tasks" of the kit; must come back with its own type."""


def _uid(label: str = "c") -> str:
    return f"{label}-{uuid.uuid4()}"


def _request(**fields: Any) -> SimpleNamespace:
    defaults: dict[str, Any] = {"children": [], "group": None, "parent_id": None}
    return SimpleNamespace(**{**defaults, **fields})


class _CountingSubscriber:
    """Counts ``subscribe``/``unsubscribe`` calls on the store's real subscriber."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    def subscribe(self, key: str) -> None:
        self.calls["subscribe"] += 1
        self.inner.subscribe(key)

    def unsubscribe(self, key: str) -> None:
        self.calls["unsubscribe"] += 1
        self.inner.unsubscribe(key)

    def close(self) -> None:
        self.inner.close()


@contextmanager
def spy_subscriber(store: KeyValueStore | MetaStore) -> Iterator[tuple[Counter[str], dict[str, Any]]]:
    """Count subscriber calls and expose ``hooks['reconnect']`` / ``hooks['subscriber']``."""
    calls: Counter[str] = Counter()
    hooks: dict[str, Any] = {}
    original = store.subscriber

    def spy(on_message: Any, on_reconnect: Any) -> Any:
        calls["subscriber"] += 1
        hooks["reconnect"] = on_reconnect
        hooks["subscriber"] = original(on_message, on_reconnect)
        return _CountingSubscriber(hooks["subscriber"], calls)

    store.subscriber = spy  # type: ignore[method-assign]
    try:
        yield calls, hooks
    finally:
        del store.subscriber


class ClientSuite(BackendKit):
    """Every client test; subclasses provide ``make_backend``."""

    #: Concurrent asyncio waiters of the memory test (lower it for slow stores).
    many_waiters: int = 10_000
    #: Bytes a finished round of ``many_waiters`` waits may leave behind.  CPython keeps a
    #: bounded ~50-100 KiB around (json scanner, asyncio free lists); one leaked object per
    #: wait would be 400+ KiB for 10,000 waits.
    max_growth: int = 160 * 1024
    #: Seconds to wait for something that is expected to happen.
    patience: float = 10.0

    @pytest.fixture
    def later(self) -> Iterator[Callable[..., None]]:
        """``later(seconds, fn, *args)`` runs ``fn`` on a thread (a worker finishing a task)."""
        timers: list[threading.Timer] = []

        def schedule(delay: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            timer = threading.Timer(delay, fn, args, kwargs)
            timer.daemon = True
            timers.append(timer)
            timer.start()

        yield schedule
        for timer in timers:
            timer.cancel()
            timer.join(5)

    # -- AsyncResult: reading -------------------------------------------------------------
    def test_ready_result_attributes(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, {"v": [1, 2]})
        r = AsyncResult(task_id, backend=backend)
        assert r.get(timeout=self.patience) == {"v": [1, 2]}
        assert (r.state, r.status, r.result, r.info) == ("SUCCESS", "SUCCESS", {"v": [1, 2]},
                                                          {"v": [1, 2]})
        assert r.ready() and r.successful() and not r.failed() and r.exists()
        assert r.traceback is None and r.task_id == task_id and r.children is None
        assert isinstance(r.date_done, datetime) and r.date_done.tzinfo is not None

    def test_pending_result(self, backend: ResultBackend) -> None:
        r = AsyncResult(_uid(), backend)
        assert r.state == states.PENDING and r.result is None and r.date_done is None
        assert not r.ready() and not r.successful() and not r.exists()

    def test_extended_fields(self, make_backend: MakeBackend) -> None:
        backend = make_backend(result_extended=True)
        task_id = _uid()
        backend.mark_as_done(task_id, 3, request=_request(
            task="proj.add", args=[1, 2], kwargs={"z": 0}, hostname="w1@host", retries=2,
            delivery_info={"routing_key": "q1"}))
        r = AsyncResult(task_id, backend)
        assert (r.name, r.args, r.kwargs, r.worker, r.retries, r.queue) == (
            "proj.add", [1, 2], {"z": 0}, "w1@host", 2, "q1")

    def test_children_become_results(self, backend: ResultBackend) -> None:
        task_id, child, inner = _uid(), _uid(), _uid()
        group = GroupResult(_uid("g"), [AsyncResult(inner, backend)], backend=backend)
        backend.mark_as_done(task_id, "spawned",
                             request=_request(children=[AsyncResult(child, backend), group]))
        r = AsyncResult(task_id, backend)
        r.get(timeout=self.patience)
        assert r.children == [AsyncResult(child, backend), group]
        children = r.children
        assert children is not None and isinstance(children[1], GroupResult)
        assert [str(m) for m in children[1].results] == [inner]

    # -- AsyncResult: waiting ------------------------------------------------------------------
    def test_get_waits_for_a_later_result(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        later(0.1, backend.mark_as_done, task_id, "late")
        assert AsyncResult(task_id, backend).get(timeout=self.patience, interval=0.02) == "late"

    def test_get_timeout(self, backend: ResultBackend) -> None:
        r = AsyncResult(_uid(), backend)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            r.get(timeout=0.3, interval=0.05)
        assert 0.25 <= time.monotonic() - started < 3
        assert isinstance(info.value, builtins.TimeoutError) and isinstance(info.value, r.TimeoutError)
        with pytest.raises(TimeoutError):
            r.get(timeout=0)

    def test_failure_reraised_with_original_type(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_failure(task_id, ClientKitError("bad", 7), traceback="Traceback: here")
        r = AsyncResult(task_id, backend)
        with pytest.raises(ClientKitError) as info:
            r.get(timeout=self.patience)
        assert info.value.args == ("bad", 7)
        assert r.failed() and r.state == states.FAILURE and r.traceback == "Traceback: here"
        assert isinstance(r.result, ClientKitError)

    def test_failure_of_unknown_class_gives_a_standin(self, backend: ResultBackend) -> None:
        task_id = _uid()
        missing = type("VanishedError", (Exception,), {"__module__": "no_such_module_for_kit"})
        backend.mark_as_failure(task_id, missing("gone"))
        with pytest.raises(Exception) as info:
            AsyncResult(task_id, backend).get(timeout=self.patience)
        assert type(info.value).__name__ == "VanishedError" and type(info.value) is not missing
        assert type(info.value).__module__ == "no_such_module_for_kit"
        assert info.value.args == ("gone",)

    def test_propagate_false_and_callback(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_failure(task_id, ClientKitError("soft"))
        seen: list[tuple[str, Any]] = []
        value = AsyncResult(task_id, backend).get(timeout=self.patience, propagate=False,
                                                  callback=lambda i, v: seen.append((i, v)))
        assert isinstance(value, ClientKitError) and seen == [(task_id, value)]

    def test_revoked_raises_task_revoked_error(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_revoked(task_id, "stop")
        r = AsyncResult(task_id, backend)
        with pytest.raises(Exception) as info:
            r.get(timeout=self.patience)
        assert type(info.value).__name__ == "TaskRevokedError" and r.ready() and not r.failed()

    def test_follow_parents_raises_parent_failure_early(self, backend: ResultBackend,
                                                        later: Any) -> None:
        parent = AsyncResult(_uid("p"), backend)
        child = AsyncResult(_uid(), backend, parent=parent)
        later(0.1, backend.mark_as_failure, parent.id, ClientKitError("parent broke"))
        started = time.monotonic()
        with pytest.raises(ClientKitError, match="parent broke"):
            child.get(timeout=self.patience, interval=0.02)
        assert time.monotonic() - started < self.patience / 2
        assert parent.failed()
        with pytest.raises(TimeoutError):
            AsyncResult(child.id, backend, parent=parent).get(timeout=0.2, follow_parents=False)

    def test_follow_parents_with_ready_child(self, backend: ResultBackend) -> None:
        grandparent, parent, child = _uid("gp"), _uid("p"), _uid()
        backend.mark_as_done(grandparent, 1)
        backend.mark_as_failure(parent, ClientKitError("mid"))
        backend.mark_as_done(child, 3)
        chain = AsyncResult(child, backend, parent=AsyncResult(
            parent, backend, parent=AsyncResult(grandparent, backend)))
        with pytest.raises(ClientKitError, match="mid"):
            chain.get(timeout=self.patience)
        assert chain.get(timeout=self.patience, follow_parents=False) == 3

    def test_on_message_and_on_interval(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        messages: list[str] = []
        ticks: list[float] = []
        later(0.15, backend.mark_as_started, task_id, pid=1)
        later(0.4, backend.mark_as_done, task_id, "ok")
        value = AsyncResult(task_id, backend).get(
            timeout=self.patience, interval=0.03, on_message=lambda m: messages.append(m["status"]),
            on_interval=lambda: ticks.append(time.monotonic()))
        assert value == "ok"
        assert messages[-1] == states.SUCCESS and states.STARTED in messages
        assert len(ticks) >= 2

    def test_join_guard(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, 1)
        r = AsyncResult(task_id, backend)
        with denied_join_result():
            with pytest.raises(RuntimeError, match=r"Never call result\.get"):
                r.get()
            with pytest.raises(RuntimeError):
                ResultSet([r]).join()
            assert r.get(disable_sync_subtasks=False) == 1
            with allow_join_result():
                assert r.get() == 1

    def test_ignored_returns_none(self, backend: ResultBackend) -> None:
        r = AsyncResult(_uid(), backend)
        r.ignored = True
        assert r.get(timeout=0) is None

    def test_then_and_maybe_throw(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        r = AsyncResult(task_id, backend)
        fired: list[Any] = []
        errors: list[BaseException] = []
        r.then(fired.append)
        r.then(lambda _: 1 / 0, on_error=errors.append)
        later(0.05, backend.mark_as_done, task_id, 5)
        assert r.get(timeout=self.patience) == 5
        assert fired == [r] and isinstance(errors[0], ZeroDivisionError)
        r.then(fired.append)
        assert fired == [r, r]
        assert r.maybe_throw() == 5
        failed = _uid()
        backend.mark_as_failure(failed, ClientKitError("x"))
        with pytest.raises(ClientKitError):
            AsyncResult(failed, backend).maybe_throw()
        assert isinstance(AsyncResult(failed, backend).maybe_throw(propagate=False), ClientKitError)

    def test_forget_result_and_parents(self, backend: ResultBackend) -> None:
        parent, child = _uid("p"), _uid()
        backend.mark_as_done(parent, 1)
        backend.mark_as_done(child, 2)
        r = AsyncResult(child, backend, parent=AsyncResult(parent, backend))
        assert r.get(timeout=self.patience) == 2
        r.forget()
        assert r.state == states.PENDING and not r.exists()
        assert AsyncResult(parent, backend).state == states.PENDING

    def test_revoke_hook(self, backend: ResultBackend) -> None:
        calls: list[tuple[Any, dict[str, Any]]] = []
        r = AsyncResult("t", backend, revoke=lambda ids, **kw: calls.append((ids, kw)))
        r.revoke(terminate=True, signal="KILL")
        assert calls == [(["t"], {"connection": None, "terminate": True, "signal": "KILL",
                                  "reply": False, "timeout": None})]
        with pytest.raises(NotSupported):
            AsyncResult("t", backend).revoke()

    def test_identity_and_tuples(self, backend: ResultBackend) -> None:
        parent = AsyncResult("p1", backend)
        r = AsyncResult("t1", backend, parent=parent)
        assert r.as_tuple() == (("t1", (("p1", None), None)), None)
        assert r.as_list() == ["t1", "p1"]
        assert r == "t1" and r == AsyncResult("t1", backend) and r != AsyncResult("t2", backend)
        assert hash(r) == hash("t1") and str(r) == "t1" and repr(r) == "<AsyncResult: t1>"
        clone = result_from_tuple(r.as_tuple(), backend)
        assert clone == r and clone.parent == parent
        assert result_from_tuple(r, backend) is r
        with pytest.raises(DecodeError):
            result_from_tuple([["x"]], backend)
        with pytest.raises(DecodeError):
            result_from_tuple([[42, None], None], backend)

    def test_iterdeps_collect_graph(self, backend: ResultBackend) -> None:
        root, a, b, leaf = _uid("root"), _uid("a"), _uid("b"), _uid("leaf")
        backend.mark_as_done(leaf, "L")
        backend.mark_as_done(a, "A", request=_request(children=[AsyncResult(leaf, backend)]))
        backend.mark_as_done(b, "B")
        backend.mark_as_done(root, "R", request=_request(
            children=[AsyncResult(a, backend), AsyncResult(b, backend)]))
        r = AsyncResult(root, backend)
        assert [(str(n), v) for n, v in r.collect(timeout=self.patience)] == [
            (root, "R"), (a, "A"), (b, "B"), (leaf, "L")]
        assert r.get_leaf() == "L"
        graph = r.graph
        assert len(graph) == 4 and [str(n) for n in graph[r]] == [a, b] and graph.topsort()[0] == r
        out = io.StringIO()
        graph.to_dot(out)
        assert f'"{root}" -> "{a}"' in out.getvalue()
        unfinished = _uid("u")
        backend.mark_as_done(root + "x", "R", request=_request(
            children=[AsyncResult(unfinished, backend)]))
        with pytest.raises(IncompleteStream):
            list(AsyncResult(root + "x", backend).iterdeps())
        assert len(list(AsyncResult(root + "x", backend).iterdeps(intermediate=True))) == 2

    # -- ResultSet / GroupResult ------------------------------------------------------------------
    def _finished(self, backend: ResultBackend, n: int, label: str = "m") -> list[AsyncResult]:
        results = [AsyncResult(_uid(label), backend) for _ in range(n)]
        for i, r in enumerate(results):
            backend.mark_as_done(r.id, i)
        return results

    def test_membership(self, backend: ResultBackend) -> None:
        a, b, c = (AsyncResult(_uid(), backend) for _ in range(3))
        rs = ResultSet([a])
        rs.add(b)
        rs.add(b)
        rs.update([b, c])
        assert rs.results == [a, b, c] and len(rs) == 3 and rs[1] == b and list(rs) == [a, b, c]
        rs.remove(a.id)
        rs.discard(a)
        with pytest.raises(KeyError):
            rs.remove(a)
        members = rs.results
        rs.clear()
        assert rs.results is members and not members
        assert ResultSet([b]) == ResultSet([AsyncResult(b.id, backend)])

    def test_state_summaries(self, backend: ResultBackend) -> None:
        done = self._finished(backend, 2)
        failed = AsyncResult(_uid(), backend)
        backend.mark_as_failure(failed.id, ClientKitError("f"))
        pending = AsyncResult(_uid(), backend)
        rs = ResultSet([*done, failed, pending])
        assert rs.completed_count() == 2 and rs.failed() and rs.waiting()
        assert not rs.ready() and not rs.successful()
        backend.mark_as_done(pending.id, "late")
        assert rs.ready() and not rs.waiting() and rs.completed_count() == 3
        ok = ResultSet(self._finished(backend, 3))
        assert ok.successful() and not ok.failed() and ok.ready()
        with pytest.raises(ClientKitError):
            rs.maybe_throw()

    def test_join_in_order(self, backend: ResultBackend, later: Any) -> None:
        results = [AsyncResult(_uid(), backend) for _ in range(4)]
        for i, r in enumerate(reversed(results)):
            later(0.02 * i, backend.mark_as_done, r.id, r.id)
        rs = ResultSet(results)
        assert rs.join(timeout=self.patience, interval=0.02) == [r.id for r in results]
        seen: list[str] = []
        assert rs.join(callback=lambda i, v: seen.append(v)) == []
        assert seen == [r.id for r in results]

    def test_join_native_order_and_callback_order(self, make_backend: MakeBackend, later: Any) -> None:
        backend = make_backend(resultstore_poll_interval_max=0.02)
        results = [AsyncResult(_uid(), backend) for _ in range(4)]
        for i, r in enumerate(reversed(results)):
            later(0.05 + 0.1 * i, backend.mark_as_done, r.id, r.id)
        completion: list[str] = []
        rs = ResultSet(results)
        assert rs.join_native(timeout=self.patience, interval=0.02,
                              callback=lambda i, v: completion.append(i)) is None
        assert completion == [r.id for r in reversed(results)]
        again = ResultSet([AsyncResult(r.id, backend) for r in results])
        assert again.get(timeout=self.patience) == [r.id for r in results]

    def test_join_with_duplicates_and_eager_members(self, backend: ResultBackend) -> None:
        a, b = self._finished(backend, 2)
        rs = ResultSet([a, b, AsyncResult(a.id, backend), EagerResult("e", "eager", states.SUCCESS)])
        assert rs.join_native(timeout=self.patience) == [0, 1, 0, "eager"]
        assert ResultSet([AsyncResult(a.id, backend), a]).join(timeout=self.patience) == [0, 0]

    def test_join_timeout_and_propagation(self, backend: ResultBackend) -> None:
        done = self._finished(backend, 1)[0]
        pending = AsyncResult(_uid(), backend)
        for join in ("join", "join_native"):
            with pytest.raises(TimeoutError):
                getattr(ResultSet([done, pending]), join)(timeout=0.2, interval=0.05)
        failed = AsyncResult(_uid(), backend)
        backend.mark_as_failure(failed.id, ClientKitError("member"))
        for join in ("join", "join_native"):
            with pytest.raises(ClientKitError):
                getattr(ResultSet([done, failed]), join)(timeout=self.patience)
            values = getattr(ResultSet([AsyncResult(done.id, backend), AsyncResult(failed.id, backend)]),
                             join)(timeout=self.patience, propagate=False)
            assert values[0] == 0 and isinstance(values[1], ClientKitError)

    def test_nested_groups_join(self, backend: ResultBackend) -> None:
        inner = GroupResult(_uid("g"), self._finished(backend, 2), backend=backend)
        outer = ResultSet([*self._finished(backend, 1), inner])
        assert outer.join(timeout=self.patience) == [0, [0, 1]]
        assert outer.join_native(timeout=self.patience) == [0, [0, 1]]
        assert outer.completed_count() == 2 and outer.ready()

    def test_iter_ready_completion_order(self, make_backend: MakeBackend, later: Any) -> None:
        backend = make_backend(resultstore_poll_interval_max=0.02)
        results = [AsyncResult(_uid(), backend) for _ in range(3)]
        for i, r in enumerate(reversed(results)):
            later(0.05 + 0.1 * i, backend.mark_as_done, r.id, i)
        group = GroupResult(_uid("g"), results)
        assert [r.id for r in group.iter_ready(timeout=self.patience, interval=0.02)] == [
            r.id for r in reversed(results)]
        assert all(r.ready() for r in results)

    def test_set_then_and_revoke(self, backend: ResultBackend) -> None:
        results = self._finished(backend, 2)
        calls: list[Any] = []
        rs = ResultSet(results, revoke=lambda ids, **kw: calls.append(ids))
        fired: list[Any] = []
        rs.then(fired.append)
        rs.join_native(timeout=self.patience)
        assert fired == [rs]
        rs.revoke()
        assert calls == [[r.id for r in results]]
        with pytest.raises(NotSupported):
            ResultSet(results).revoke()

    def test_group_save_restore_delete(self, backend: ResultBackend) -> None:
        chain_parent = AsyncResult(_uid("p"), backend)
        inner = GroupResult(_uid("inner"), [AsyncResult(_uid(), backend)], backend=backend)
        group_id = _uid("g")
        group = GroupResult(group_id, [AsyncResult(_uid(), backend, parent=chain_parent), inner],
                            parent=AsyncResult(_uid("gp"), backend), backend=backend)
        assert group.save() is group
        restored = GroupResult.restore(group_id, backend)
        assert restored is not None
        assert restored == group and restored is not group
        assert restored.parent == group.parent and restored.results[0].parent == chain_parent
        assert isinstance(restored.results[1], GroupResult) and restored.results[1] == inner
        assert restored.as_tuple() == group.as_tuple()
        assert hash(restored) == hash(group_id) and restored == group_id and bool(restored)
        restored.delete()
        assert GroupResult.restore(group_id, backend) is None
        assert GroupResult.restore(_uid("never"), backend) is None

    # -- EagerResult ---------------------------------------------------------------------------------
    def test_eager_result(self) -> None:
        ok = EagerResult("e1", 4, states.SUCCESS, name="proj.add")
        assert ok.get() == 4 and ok.ready() and ok.successful() and ok.result == 4
        assert ok.name == "proj.add" and ok.as_tuple() == (("e1", None), None)
        assert repr(ok) == "<EagerResult: e1>" and not ok.supports_native_join
        bad = EagerResult("e2", ClientKitError("eager"), states.FAILURE, "tb")
        with pytest.raises(ClientKitError):
            bad.get()
        assert isinstance(bad.get(propagate=False), ClientKitError) and bad.traceback == "tb"
        fired: list[Any] = []
        bad.then(fired.append)
        assert fired == [bad]
        ok.revoke()
        with pytest.raises(Exception) as info:
            ok.get()
        assert ok.state == states.REVOKED and type(info.value).__name__ == "TaskRevokedError"
        assert asyncio.run(EagerResult("e3", 1, states.SUCCESS).aget()) == 1

    # -- asyncio -----------------------------------------------------------------------------------
    async def test_aget(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        later(0.1, backend.mark_as_done, task_id, "async")
        r = AsyncResult(task_id, backend)
        assert await r.astate() == states.PENDING and not await r.aready()
        assert await r.aget(timeout=self.patience, interval=0.02) == "async"
        assert await r.aready() and r.state == states.SUCCESS
        with pytest.raises(TimeoutError):
            await AsyncResult(_uid(), backend).aget(timeout=0.2, interval=0.05)
        failed = _uid()
        backend.mark_as_failure(failed, ClientKitError("async boom"))
        with pytest.raises(ClientKitError):
            await AsyncResult(failed, backend).aget(timeout=self.patience)
        assert isinstance(await AsyncResult(failed, backend).aget(propagate=False), ClientKitError)

    async def test_aget_follow_parents(self, backend: ResultBackend, later: Any) -> None:
        parent = AsyncResult(_uid("p"), backend)
        child = AsyncResult(_uid(), backend, parent=parent)
        later(0.1, backend.mark_as_failure, parent.id, ClientKitError("async parent"))
        with pytest.raises(ClientKitError, match="async parent"):
            await child.aget(timeout=self.patience, interval=0.02)

    async def test_aget_never_blocks_the_loop(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        later(0.4, backend.mark_as_done, task_id, 1)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        try:
            assert await AsyncResult(task_id, backend).aget(timeout=self.patience, interval=0.05) == 1
        finally:
            task.cancel()
        assert ticks >= 15

    async def test_ajoin_and_aiter_ready(self, make_backend: MakeBackend, later: Any) -> None:
        backend = make_backend(resultstore_poll_interval_max=0.02)
        results = [AsyncResult(_uid(), backend) for _ in range(3)]
        for i, r in enumerate(reversed(results)):
            later(0.05 + 0.1 * i, backend.mark_as_done, r.id, r.id)
        group_id = _uid("g")
        group = GroupResult(group_id, results, backend=backend)
        order = [r.id async for r in group.aiter_ready(timeout=self.patience, interval=0.02)]
        assert order == [r.id for r in reversed(results)]
        fresh = GroupResult(group_id, [AsyncResult(r.id, backend) for r in results])
        assert await fresh.ajoin(timeout=self.patience) == [r.id for r in results]
        assert await fresh.aready()
        with pytest.raises(TimeoutError):
            await ResultSet([AsyncResult(_uid(), backend)]).ajoin(timeout=0.1, interval=0.05)
        await group.asave()
        restored = await GroupResult.arestore(group_id, backend)
        assert restored == group
        await group.adelete()

    async def test_backend_aget_task_meta(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, 8)
        assert (await backend.aget_task_meta(task_id))["result"] == 8

    # -- chords ------------------------------------------------------------------------------------
    def test_chord_join_exactly_once(self, backend: ResultBackend) -> None:
        if not backend.supports_native_chords:
            with pytest.raises(NotSupported):
                chord_join(backend, _uid("g"), "t", 0, states.SUCCESS, 1)
            return
        group_id = _uid("g")
        backend.set_chord_size(group_id, 3)
        outcomes = [chord_join(backend, group_id, f"{group_id}-{i}", i, states.SUCCESS, i * 10)
                    for i in (2, 0, 1)]
        assert outcomes[:2] == [None, None] and outcomes[2] == [0, 10, 20]
        assert chord_join(backend, group_id, f"{group_id}-1", 1, states.SUCCESS, 10) is None
        failing = _uid("g")
        backend.set_chord_size(failing, 2)
        assert chord_join(backend, failing, "ok", 0, states.SUCCESS, 1) is None
        with pytest.raises(ChordError, match="Dependency bad raised"):
            chord_join(backend, failing, "bad", 1, states.FAILURE, ClientKitError("no"))

    # -- waiting: cost and push ----------------------------------------------------------------------
    def test_joining_1000_ready_results_is_one_batched_read(self, backend: ResultBackend) -> None:
        results = [AsyncResult(_uid(), backend) for _ in range(1000)]
        for r in results:
            backend.mark_as_done(r.id, 1)
        batched, single = (("mget", "get") if isinstance(backend.store, KeyValueStore)
                           else ("get_many_meta", "get_meta"))
        for join in ("join_native", "join", "get", "ready", "completed_count"):
            rs = ResultSet([AsyncResult(r.id, backend) for r in results])
            with CallCounter(backend.store).install((batched, single, "subscriber")) as counter:
                getattr(rs, join)()
            reads = counter.calls[batched] + counter.calls[single]
            assert (counter.calls[batched], reads, counter.calls["subscriber"]) == (1, 1, 0), join

    def test_waiting_on_a_ready_result_never_subscribes(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, 1)
        with spy_subscriber(backend.store) as (calls, _):
            assert AsyncResult(task_id, backend).get(timeout=1) == 1
            assert asyncio.run(AsyncResult(task_id, backend).aget(timeout=1)) == 1
            assert waiter(backend).wait(task_id)["result"] == 1
            assert list(waiter(backend).iter_ready([task_id])) == [(task_id, ANY)]
        assert calls == {}
        assert waiter(backend).subscribed == frozenset()

    @pytest.fixture
    def pushing(self, backend: ResultBackend) -> None:
        """Skip when the store declares SUBSCRIBE but this deployment cannot push (a record
        store probes when its channel opens, e.g. MongoDB change streams need a replica set)."""
        try:
            subscriber = backend.store.subscriber(lambda *_: None, lambda: None)
        except NotSupported as exc:
            pytest.skip(f"the store declares SUBSCRIBE, but this deployment cannot push: {exc}")
        subscriber.close()

    @requires(Capability.SUBSCRIBE)
    def test_one_shared_subscriber_and_unsubscribe_when_done(self, backend: ResultBackend,
                                                             later: Any, pushing: None) -> None:
        w = waiter(backend)
        ids = [_uid() for _ in range(8)]
        out: dict[str, Any] = {}

        def wait(task_id: str) -> None:
            out[task_id] = AsyncResult(task_id, backend).get(timeout=self.patience)

        with spy_subscriber(backend.store) as (calls, _):
            threads = [threading.Thread(target=wait, args=(t,)) for t in ids]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + self.patience
            while len(w.subscribed) < len(ids) and time.monotonic() < deadline:
                time.sleep(0.005)
            for i, task_id in enumerate(ids):
                backend.mark_as_done(task_id, i)
            for thread in threads:
                thread.join(self.patience)
        assert out == {t: i for i, t in enumerate(ids)}
        assert calls == {"subscriber": 1, "subscribe": 8, "unsubscribe": 8}
        assert w.waited == frozenset() and w.subscribed == frozenset()

    @requires(Capability.SUBSCRIBE)
    def test_waits_are_pushed_not_polled(self, backend: ResultBackend, later: Any,
                                         pushing: None) -> None:
        task_id = _uid()
        reads = (("mget", "get") if isinstance(backend.store, KeyValueStore)
                 else ("get_many_meta", "get_meta"))
        later(0.5, backend.mark_as_done, task_id, "pushed")
        with CallCounter(backend.store).install(reads) as counter:
            value = AsyncResult(task_id, backend).get(timeout=self.patience, interval=0.01)
        assert value == "pushed"
        # first read + one re-read after subscribing; no polling at interval=0.01 for 0.5 s
        assert 1 <= sum(counter.calls[name] for name in reads) <= 3

    @requires(Capability.SUBSCRIBE)
    def test_reconnect_rereads_waited_keys(self, backend: ResultBackend, pushing: None) -> None:
        task_id = _uid()
        # key/value subscribers are addressed by key, record stores' by task id
        channel = backend.keys.task(task_id) if isinstance(backend.store, KeyValueStore) else task_id
        w = waiter(backend)
        result: list[Any] = []
        with spy_subscriber(backend.store) as (_, hooks):
            thread = threading.Thread(target=lambda: result.append(
                AsyncResult(task_id, backend).get(timeout=self.patience)))
            thread.start()
            deadline = time.monotonic() + self.patience
            while task_id not in w.subscribed and time.monotonic() < deadline:
                time.sleep(0.005)
            # the channel loses the subscription, so the write below is never pushed
            hooks["subscriber"].unsubscribe(channel)
            backend.mark_as_done(task_id, "missed")
            time.sleep(0.3)
            assert thread.is_alive() and not result
            hooks["reconnect"]()  # the store reconnected: core re-reads every waited key
            thread.join(self.patience)
        assert result == ["missed"]

    @requires(Capability.SUBSCRIBE)
    def test_push_failure_falls_back_to_polling(self, backend: ResultBackend, later: Any) -> None:
        task_id = _uid()
        flaky = FlakyStore(backend.store, "subscriber", ConnectionError("channel down"), 1)
        try:
            later(0.2, backend.mark_as_done, task_id, "polled")
            assert AsyncResult(task_id, backend).get(timeout=self.patience, interval=0.02) == "polled"
        finally:
            flaky.restore()

    @requires(Capability.SUBSCRIBE)
    def test_undecodable_pushed_value_raises_decode_error(self, backend: ResultBackend,
                                                          pushing: None) -> None:
        if not isinstance(backend.store, KeyValueStore):
            pytest.skip("writes a raw undecodable payload: key/value stores only (record stores "
                        "test hostile documents with their own layout)")
        task_id = _uid()
        w = waiter(backend)
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                AsyncResult(task_id, backend).get(timeout=self.patience, interval=0.02)
            except Exception as exc:  # noqa: BLE001 - the thread hands any error to the test
                errors.append(exc)

        thread = threading.Thread(target=wait)
        thread.start()
        deadline = time.monotonic() + self.patience
        while task_id not in w.subscribed and time.monotonic() < deadline:
            time.sleep(0.005)
        backend.store.set(backend.keys.task(task_id), b"\x00not a meta", None)
        thread.join(self.patience)
        assert len(errors) == 1 and isinstance(errors[0], DecodeError)

    def test_many_asyncio_waiters_flat_memory(self, backend: ResultBackend) -> None:
        """``many_waiters`` concurrent ``aget`` on one backend; memory is flat afterwards.

        A warm-up round, then a round under tracemalloc: whatever that round still
        holds once every wait finished is growth (the store's own tables, which a
        dict/set never shrinks, are reported but not held against the waiter).
        """
        figures = asyncio.run(self._many_waiters(backend))
        print(f"\n[client kit] {self.many_waiters} asyncio waiters on {backend.as_uri()}: "
              + ", ".join(f"{k}={v}" for k, v in figures.items()))
        assert figures["growth_bytes"] < self.max_growth, figures

    async def _many_waiters(self, backend: ResultBackend) -> dict[str, Any]:
        w = waiter(backend)
        n = self.many_waiters
        store = backend.store
        store_dir = os.path.dirname(inspect.getfile(type(store))) + os.sep  # the plugin package

        async def one_round(label: str) -> float:
            ids = [f"{label}-{i}-{uuid.uuid4().hex[:8]}" for i in range(n)]
            started = time.monotonic()
            tasks = [asyncio.ensure_future(AsyncResult(t, backend).aget(timeout=120)) for t in ids]
            deadline = time.monotonic() + self.patience * 3
            while time.monotonic() < deadline:
                await asyncio.sleep(0.01)
                if not w.push or len(w.waited) == n:
                    break
            if w.push:
                assert len(w.waited) == n, "not every waiter was waiting at once"

            def finish() -> None:
                for task_id in ids:
                    backend.mark_as_done(task_id, task_id)

            await asyncio.to_thread(finish)
            assert await asyncio.gather(*tasks) == ids
            elapsed = time.monotonic() - started
            assert w.flush(self.patience)
            assert w.waited == frozenset() and w.subscribed == frozenset()
            if isinstance(store, KeyValueStore):
                store.delete_many([backend.keys.task(t) for t in ids])
            else:
                for task_id in ids:
                    store.delete_meta(task_id)
            del tasks
            for _ in range(3):  # let the loop drop its last handles of this round
                await asyncio.sleep(0)
            gc.collect()
            return elapsed

        first = await one_round("r1")  # warm-up: first-time allocations are not growth
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            second = await one_round("r2")
            peak = tracemalloc.get_traced_memory()[1]
            left = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        stats = left.statistics("filename")
        in_store = sum(st.size for st in stats if st.traceback[0].filename.startswith(store_dir))
        total = sum(st.size for st in stats)
        return {"mode": "push" if w.push else "poll", "round_seconds": round(first, 2),
                "traced_round_seconds": round(second, 2),
                "peak_bytes_per_waiter": (peak - base) // n, "left_after_round_bytes": total,
                "of_which_store_tables": in_store, "growth_bytes": total - in_store}
