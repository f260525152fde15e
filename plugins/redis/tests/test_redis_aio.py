"""The ``redis.asyncio`` twin: same wire format, one client per loop, closed with the loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_servers import Deployment

import resultstore
from resultstore import states
from resultstore_redis.aio import AsyncRedisStore


@pytest.fixture
def backend(redis_plain: Deployment) -> Iterator[resultstore.ResultBackend]:
    backend = redis_plain.connect(result_extended=True)
    yield backend
    backend.close()


def _clients(port: int) -> int:
    raw = redis.Redis(port=port)
    try:
        return len(raw.client_list()) - 1
    finally:
        raw.close()


def test_async_twin_reads_and_writes_the_sync_wire(backend: resultstore.ResultBackend) -> None:
    astore = backend.astore
    assert isinstance(astore, AsyncRedisStore)
    key = backend.keys.task(f"a-{uuid.uuid4()}")
    payload = backend.encode({"status": states.SUCCESS, "result": 1, "task_id": "a"})

    async def run() -> tuple[object, ...]:
        await astore.set(key, payload, 60)
        kept = await astore.set_unless_prefix(key, b'{"status": "FAILURE"}', 60,
                                              b'{"status": "SUCCESS"')
        many = await astore.mget([key, key + "-missing"])
        await astore.delete(key + "-missing")
        return kept, many, await astore.get(key)

    kept, many, value = asyncio.run(run())
    assert kept is False and many == [payload, None] and value == payload
    assert backend.store.get(key) == payload  # the sync store sees the same bytes
    assert redis.Redis(port=int(backend.as_uri().split(":")[2].split("/")[0])).ttl(key) > 50


def test_one_client_per_loop_closed_with_the_loop(redis_plain: Deployment,
                                                  backend: resultstore.ResultBackend) -> None:
    port = redis_plain.servers[0].port
    ids = [f"l-{uuid.uuid4()}" for _ in range(3)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)
    baseline = _clients(port)

    async def read() -> list[object]:
        metas = await backend.aget_many(ids)
        assert _clients(port) > baseline  # a connection of this loop is open
        return [metas[t]["result"] for t in ids]

    for _ in range(5):  # five loops: each opens its client and closes it at shutdown
        assert asyncio.run(read()) == ids
    deadline = time.monotonic() + 5
    while _clients(port) > baseline:
        assert time.monotonic() < deadline, "asyncio connections outlived their loops"
        time.sleep(0.02)


def test_concurrent_async_waits_share_one_client(backend: resultstore.ResultBackend) -> None:
    ids = [f"c-{uuid.uuid4()}" for _ in range(200)]

    async def run() -> list[object]:
        await asyncio.gather(*(asyncio.to_thread(backend.mark_as_done, t, i)
                               for i, t in enumerate(ids[:10])))
        metas = await asyncio.gather(*(backend.aget_task_meta(t) for t in ids))
        await backend.astore.aclose()
        return [m["status"] for m in metas]

    statuses = asyncio.run(run())
    assert statuses.count(states.SUCCESS) == 10 and statuses.count(states.PENDING) == 190
