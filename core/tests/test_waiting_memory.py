"""``resultstore.waiting`` beyond the client kit: sharing, churn, cancellation, backoff, close."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import resultstore
from resultstore import Capability, Settings, TimeoutError
from resultstore.backend import ResultBackend
from resultstore.hooks import hookimpl, plugin_manager
from resultstore.stores.memory import MemoryStore
from resultstore.testing import CallCounter
from resultstore.testing.client_suite import spy_subscriber
from resultstore.waiting import Waiter, waiter


class PollingMemoryStore(MemoryStore):
    capabilities = MemoryStore.capabilities - {Capability.SUBSCRIBE, Capability.AIO}


@pytest.fixture
def backend() -> Iterator[ResultBackend]:
    backend = resultstore.connect(f"memory://waiting-{uuid.uuid4()}")
    yield backend
    waiter(backend).close()


@pytest.fixture
def polling() -> Callable[..., ResultBackend]:
    namespace = f"waiting-poll-{uuid.uuid4()}"
    return lambda **settings: ResultBackend(PollingMemoryStore(namespace), Settings(**settings))


def _uid() -> str:
    return f"w-{uuid.uuid4()}"


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.002)


def test_one_waiter_per_backend_created_once(backend: ResultBackend) -> None:
    with ThreadPoolExecutor(16) as pool:
        found = set(pool.map(lambda _: id(waiter(backend)), range(64)))
    assert len(found) == 1 and isinstance(waiter(backend), Waiter) and waiter(backend).push
    other = resultstore.connect(backend.url or "memory://")
    assert waiter(other) is not waiter(backend)


def test_threads_and_two_event_loops_share_one_subscriber(backend: ResultBackend) -> None:
    assert isinstance(backend.store, MemoryStore)
    w = waiter(backend)
    shared, own = _uid(), [_uid() for _ in range(4)]
    results: dict[str, Any] = {}

    def sync_wait(name: str, task_id: str) -> None:
        results[name] = w.wait(task_id, timeout=10)["result"]

    def loop_wait(name: str, task_ids: list[str]) -> None:
        async def main() -> list[Any]:
            return await asyncio.gather(*(w.await_one(t, timeout=10) for t in task_ids))

        results[name] = [m["result"] for m in asyncio.run(main())]

    with spy_subscriber(backend.store) as (calls, _):
        threads = [
            threading.Thread(target=sync_wait, args=("sync-shared", shared)),
            threading.Thread(target=sync_wait, args=("sync-own", own[0])),
            threading.Thread(target=loop_wait, args=("loop-a", [shared, own[1]])),
            threading.Thread(target=loop_wait, args=("loop-b", [shared, own[2], own[3]])),
        ]
        for thread in threads:
            thread.start()
        _until(lambda: w.subscribed == {shared, *own})
        for i, task_id in enumerate([shared, *own]):
            backend.mark_as_done(task_id, i)
        for thread in threads:
            thread.join(10)
    assert results == {"sync-shared": 0, "sync-own": 1, "loop-a": [0, 2], "loop-b": [0, 3, 4]}
    assert w.flush(5)
    assert calls == {"subscriber": 1, "subscribe": 5, "unsubscribe": 5}
    assert w.waited == frozenset() and w.subscribed == frozenset()


def test_subscription_churn_leaves_nothing_behind(backend: ResultBackend) -> None:
    """Many threads wait on a few hot keys while results land: no lost wake-up, no leftovers."""
    w = waiter(backend)
    rounds, waiters_per_key, keys = 15, 4, 5

    def one_round(_: int) -> None:
        ids = [_uid() for _ in range(keys)]
        with ThreadPoolExecutor(keys * waiters_per_key + 1) as pool:
            futures = [pool.submit(w.wait, t, 10) for t in ids for _ in range(waiters_per_key)]
            pool.submit(lambda: [backend.mark_as_done(t, t) for t in ids])
            assert sorted(f.result()["result"] for f in futures) == sorted(ids * waiters_per_key)

    with ThreadPoolExecutor(3) as runner:
        list(runner.map(one_round, range(rounds)))
    assert w.waited == frozenset() and w.subscribed == frozenset()


def test_cancelled_and_abandoned_waits_unsubscribe(backend: ResultBackend) -> None:
    w = waiter(backend)
    task_id, other = _uid(), _uid()

    async def main() -> None:
        task = asyncio.ensure_future(w.await_one(task_id))
        await asyncio.sleep(0.05)
        assert w.waited == {task_id}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert w.flush(5) and w.waited == frozenset() and w.subscribed == frozenset()
    backend.mark_as_done(other, 1)
    ready = w.iter_ready([other, _uid()], timeout=10)
    assert next(ready)[0] == other  # the second id is never waited for: close the generator
    ready.close()
    assert w.waited == frozenset() and w.subscribed == frozenset()


def test_iter_ready_edge_cases(backend: ResultBackend) -> None:
    w = waiter(backend)
    assert list(w.iter_ready([])) == []
    a, b = _uid(), _uid()
    backend.mark_as_done(a, "a")
    backend.mark_as_done(b, "b")
    assert [t for t, _ in w.iter_ready([b, a, b, a])] == [b, a]
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2s"):
        list(w.iter_ready([a, _uid()], timeout=0.2))
    assert time.monotonic() - started < 2


def test_timeout_in_push_mode_without_on_interval(backend: ResultBackend) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        waiter(backend).wait(_uid(), timeout=0.3)
    assert 0.25 < time.monotonic() - started < 2


def test_polling_backs_off_up_to_the_cap(polling: Callable[..., ResultBackend]) -> None:
    backend = polling(resultstore_poll_interval_max=0.2)
    w = waiter(backend)
    assert not w.push
    with CallCounter(backend.store).install() as counter, pytest.raises(TimeoutError):
        w.wait(_uid(), timeout=1.2, interval=0.05)
    # delays 0.05, 0.075, 0.11, 0.17, then 0.2 s: about 9 reads in 1.2 s, never 24 (no backoff)
    assert 6 <= counter.calls["mget"] <= 11
    assert counter.calls["get"] == 0


def test_polling_reads_all_pending_ids_in_one_batch(polling: Callable[..., ResultBackend]) -> None:
    backend = polling(resultstore_poll_interval_max=0.05)
    ids = [_uid() for _ in range(50)]
    timer = threading.Timer(0.3, lambda: [backend.mark_as_done(t, t) for t in ids])
    timer.start()
    with CallCounter(backend.store).install() as counter:
        got = [t for t, _ in waiter(backend).iter_ready(ids, timeout=10, interval=0.05)]
    timer.join()
    assert sorted(got) == sorted(ids)
    assert counter.calls["mget"] < 30 and counter.calls["get"] == 0


def test_polling_asyncio_never_blocks_the_loop(polling: Callable[..., ResultBackend]) -> None:
    backend = polling(resultstore_poll_interval_max=0.05)
    task_id = _uid()

    async def main() -> tuple[Any, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        tick_task = asyncio.ensure_future(ticker())
        threading.Timer(0.3, backend.mark_as_done, (task_id, "offloaded")).start()
        meta = await waiter(backend).await_one(task_id, timeout=10, interval=0.01)
        tick_task.cancel()
        return meta["result"], ticks

    value, ticks = asyncio.run(main())
    assert value == "offloaded" and ticks >= 20


def test_close_turns_running_waits_into_polling(backend: ResultBackend) -> None:
    w = waiter(backend)
    task_id = _uid()
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(w.wait(task_id, timeout=10, interval=0.02)))
    thread.start()
    _until(lambda: task_id in w.subscribed)
    w.close()
    assert not w.push and w.subscribed == frozenset()
    backend.mark_as_done(task_id, "after close")  # not pushed any more: found by polling
    thread.join(10)
    assert out and out[0]["result"] == "after close"
    assert w.waited == frozenset()


def test_pushed_state_changes_reach_on_message(backend: ResultBackend) -> None:
    task_id = _uid()
    seen: list[tuple[str, Any]] = []

    def worker() -> None:
        time.sleep(0.05)
        backend.store_result(task_id, {"done": 1}, "PROGRESS")
        backend.store_result(task_id, {"done": 2}, "PROGRESS")
        backend.mark_as_done(task_id, "end")

    threading.Thread(target=worker).start()
    meta = waiter(backend).wait(task_id, timeout=10,
                                on_message=lambda m: seen.append((m["status"], m["result"])))
    assert meta["result"] == "end"
    assert seen[-3:] == [("PROGRESS", {"done": 1}), ("PROGRESS", {"done": 2}), ("SUCCESS", "end")]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_with_a_fresh_waiter(backend: ResultBackend) -> None:
    w = waiter(backend)
    pending = _uid()
    thread = threading.Thread(target=lambda: w.wait(pending, timeout=10))
    thread.start()
    _until(lambda: pending in w.subscribed)
    pid = os.fork()
    if pid == 0:  # child: nothing of the parent's waits, and waiting works
        code = 1
        try:
            fresh = _uid()
            threading.Timer(0.05, backend.mark_as_done, (fresh, "child")).start()
            clean = w.waited == frozenset() and w.subscribed == frozenset()
            code = 0 if clean and w.wait(fresh, timeout=5)["result"] == "child" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    backend.mark_as_done(pending, "parent")
    thread.join(10)
    assert os.waitstatus_to_exitcode(status) == 0
    assert w.waited == frozenset() and w.subscribed == frozenset()


class _StateLog:
    """Records ``resultstore_state_changed`` calls (a real hook plugin)."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str | None, str]] = []

    @hookimpl
    def resultstore_state_changed(self, task_id: str, old: str | None, new: str) -> None:
        self.changes.append((task_id, old, new))


def test_state_changed_hook_reports_what_a_wait_observes() -> None:
    log = _StateLog()
    manager = plugin_manager()
    manager.register(log)
    try:
        backend = resultstore.connect(f"memory://state-hook-{uuid.uuid4()}")
        w = waiter(backend)
        threading.Timer(0.05, backend.mark_as_started, ("h1",)).start()
        threading.Timer(0.15, backend.mark_as_done, ("h1", 1)).start()
        assert w.wait("h1", timeout=5)["status"] == "SUCCESS"
        backend.close()
    finally:
        manager.unregister(log)
    assert log.changes == [("h1", None, "PENDING"), ("h1", "PENDING", "STARTED"),
                           ("h1", "STARTED", "SUCCESS")]
