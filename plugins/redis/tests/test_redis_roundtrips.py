"""Hot paths in network round trips (counted on the client socket) and server commands."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import redis.connection
from redis_servers import Deployment

import resultstore
from resultstore import states


class RoundTrips:
    """Counts ``send_packed_command`` (one per command or pipeline) made by this thread."""

    def __init__(self) -> None:
        self.count = 0


@contextmanager
def round_trips() -> Iterator[RoundTrips]:
    counter = RoundTrips()
    original = redis.connection.AbstractConnection.send_packed_command
    me = threading.get_ident()

    def counted(self: Any, command: Any, check_health: bool = True) -> Any:
        if threading.get_ident() == me:
            counter.count += 1
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def _calls(raw: redis.Redis, command: str) -> int:
    stats = raw.info("commandstats").get(f"cmdstat_{command}", {})
    return int(stats.get("calls", 0))


@pytest.fixture
def backend(redis_plain: Deployment) -> Iterator[resultstore.ResultBackend]:
    backend = redis_plain.connect()
    backend.mark_as_done("warm-up", 0)  # loads the scripts, opens the pooled connection
    backend.set_chord_size("warm-up", 1)
    backend.chord_part_return("warm-up", "w", 0, states.SUCCESS, 0)
    backend.chord_done("warm-up")
    yield backend
    backend.close()


@pytest.fixture
def raw(redis_plain: Deployment) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_plain.servers[0].port)
    yield client
    client.close()


def test_store_result_is_one_round_trip(backend: resultstore.ResultBackend, raw: redis.Redis) -> None:
    before = _calls(raw, "evalsha"), _calls(raw, "publish"), _calls(raw, "get")
    with round_trips() as trips:
        backend.mark_as_done(f"rt-{uuid.uuid4()}", {"x": 1})
    assert trips.count == 1
    # the one EVALSHA did the guard (GETRANGE), SET PX and PUBLISH server-side
    after = _calls(raw, "evalsha"), _calls(raw, "publish"), _calls(raw, "get")
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 0)


def test_reads_are_one_round_trip(backend: resultstore.ResultBackend, raw: redis.Redis) -> None:
    ids = [f"rt-{uuid.uuid4()}" for _ in range(1000)]
    backend.store.set_many({backend.keys.task(t): backend.encode(
        {"status": "SUCCESS", "result": 1, "task_id": t}) for t in ids}, 60)
    with round_trips() as trips:
        backend.get_task_meta(ids[0])
    assert trips.count == 1
    mget_before = _calls(raw, "mget")
    with round_trips() as trips:
        metas = backend.get_many(ids)
    assert trips.count == 1 and _calls(raw, "mget") - mget_before == 1
    assert all(m["status"] == states.SUCCESS for m in metas.values())


def test_batched_read_checks_only_nil_answers(backend: resultstore.ResultBackend,
                                               raw: redis.Redis) -> None:
    """A wait's small read: MGET + EXISTS, one round trip even when pending; a join's large
    read: MGET alone when every member is ready, one EXISTS of just the nil keys otherwise."""
    small = [f"rt-{uuid.uuid4()}" for _ in range(3)]
    backend.mark_as_done(small[0], 1)
    with round_trips() as trips:
        metas = backend.get_many(small)
    assert trips.count == 1 and [m["status"] for m in metas.values()] == [states.SUCCESS] + [
        states.PENDING] * 2
    ids = [f"rt-{uuid.uuid4()}" for _ in range(200)]
    backend.store.set_many({backend.keys.task(t): backend.encode(
        {"status": "SUCCESS", "result": 1, "task_id": t}) for t in ids[:198]}, 60)
    exists_before = _calls(raw, "exists")
    with round_trips() as trips:
        backend.get_many(ids[:198])
    assert trips.count == 1 and _calls(raw, "exists") == exists_before
    with round_trips() as trips:
        metas = backend.get_many(ids)
    assert trips.count == 2 and _calls(raw, "exists") == exists_before + 1
    assert [m["status"] for m in metas.values()] == [states.SUCCESS] * 198 + [states.PENDING] * 2


def test_group_save_is_one_round_trip(backend: resultstore.ResultBackend) -> None:
    gid = f"g-{uuid.uuid4()}"
    with round_trips() as trips:
        backend.save_group(gid, [[gid, None], [[["a", None], None]]])
    assert trips.count == 1


def test_chord_round_trips(backend: resultstore.ResultBackend) -> None:
    gid = f"g-{uuid.uuid4()}"
    with round_trips() as trips:
        backend.set_chord_size(gid, 2)
    assert trips.count == 1
    with round_trips() as trips:
        assert backend.chord_part_return(gid, "a", 0, states.SUCCESS, 1) is None
    assert trips.count == 1
    with round_trips() as trips:  # the claiming call also gets the parts; + claim extension
        parts = backend.chord_part_return(gid, "b", 1, states.SUCCESS, 2)
    assert parts is not None and trips.count == 2
    with round_trips() as trips:
        backend.chord_done(gid)
    assert trips.count == 1


def _child_roundtrip(backend: resultstore.ResultBackend, task_id: str, queue: Any) -> None:
    backend.mark_as_done(task_id, "from child")
    queue.put(backend.get_task_meta(task_id)["result"])


def test_direct_connections_after_fork(backend: resultstore.ResultBackend) -> None:
    """A forked child gets its own connection; the parent's keeps working."""
    import multiprocessing

    backend.get_task_meta("before-fork")  # this thread's connection exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    task_id = f"fork-{uuid.uuid4()}"
    child = ctx.Process(target=_child_roundtrip, args=(backend, task_id, queue))
    child.start()
    assert queue.get(timeout=10) == "from child"
    child.join(10)
    assert child.exitcode == 0
    assert backend.get_task_meta(task_id)["result"] == "from child"
    backend.mark_as_done(f"{task_id}-parent", 1)


def test_direct_connections_from_many_threads(backend: resultstore.ResultBackend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(n: int) -> bool:
        ids = [f"thr-{n}-{i}-{uuid.uuid4()}" for i in range(50)]
        for i, task_id in enumerate(ids):
            backend.mark_as_done(task_id, [n, i])
        metas = backend.get_many(ids)
        return all(metas[t]["result"] == [n, i] for i, t in enumerate(ids))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(16)))


def test_interrupted_reply_does_not_desync(backend: resultstore.ResultBackend,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception while a reply is unread drops that connection (no stale replies later)."""
    import redis.connection as rc

    task_id = f"intr-{uuid.uuid4()}"
    backend.mark_as_done(task_id, "value")
    original = rc.AbstractConnection.read_response
    calls = {"n": 0}
    me = threading.get_ident()

    def interrupted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += threading.get_ident() == me
        if calls["n"] == 1 and threading.get_ident() == me:
            raise KeyboardInterrupt  # as if Ctrl-C arrived before the reply was read
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rc.AbstractConnection, "read_response", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.get_task_meta("other-key")
    monkeypatch.setattr(rc.AbstractConnection, "read_response", original)
    assert backend.get_task_meta(task_id)["result"] == "value"
