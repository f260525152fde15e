"""Issue 14 item 7: a Redis key of another type is a CorruptResultError on every read path."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_servers import Deployment

import resultstore
from resultstore.cli import main
from resultstore.client import AsyncResult
from resultstore.errors import CorruptResultError


@pytest.fixture
def backend(redis_plain: Deployment) -> Iterator[resultstore.ResultBackend]:
    backend = redis_plain.connect()
    yield backend
    backend.close()


@pytest.fixture
def listed(backend: resultstore.ResultBackend, redis_plain: Deployment) -> str:
    """A task id whose key holds a list."""
    task_id = f"wrong-{uuid.uuid4()}"
    raw = redis.Redis(port=redis_plain.servers[0].port)
    raw.rpush(backend.keys.task(task_id), b"x")
    raw.close()
    return task_id


def test_single_read(backend: resultstore.ResultBackend, listed: str) -> None:
    with pytest.raises(CorruptResultError, match="holds a list"):
        backend.get_task_meta(listed)


def test_batched_read_is_not_pending(backend: resultstore.ResultBackend, listed: str) -> None:
    backend.mark_as_done("wt-ok", 1)
    with pytest.raises(CorruptResultError, match="holds a list"):
        backend.get_many(["wt-ok", "wt-missing", listed])
    assert backend.get_many(["wt-ok", "wt-missing"])["wt-missing"]["status"] == "PENDING"
    many = [f"wt-many-{i}" for i in range(200)]  # a large batch checks its nil keys separately
    with pytest.raises(CorruptResultError, match="holds a list"):
        backend.get_many([*many, "wt-ok", listed])
    assert backend.get_many([*many, "wt-ok"])["wt-ok"]["status"] == "SUCCESS"


def test_asyncio_reads(backend: resultstore.ResultBackend, listed: str) -> None:
    async def both() -> None:
        with pytest.raises(CorruptResultError, match="holds a list"):
            await backend.aget_task_meta(listed)
        with pytest.raises(CorruptResultError, match="holds a list"):
            await backend.aget_many(["wt-missing", listed])
        await backend.aclose()

    asyncio.run(both())


def test_wait_raises_instead_of_blocking(backend: resultstore.ResultBackend, listed: str) -> None:
    started = time.monotonic()
    with pytest.raises(CorruptResultError):
        AsyncResult(listed, backend=backend).get(timeout=30)
    assert time.monotonic() - started < 30


def test_cli_get(redis_plain: Deployment, listed: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["get", redis_plain.url, listed])
    captured = capsys.readouterr()
    text = " ".join((captured.err + captured.out).split())
    assert code == 1 and "Traceback" not in text and "CorruptResultError" in text


def test_pushed_corrupt_value_raises_the_wait(backend: resultstore.ResultBackend) -> None:
    """A malformed value arriving by pub/sub ends the wait with the typed error."""
    import threading

    task_id = f"pushed-{uuid.uuid4()}"
    key = backend.keys.task(task_id)
    timer = threading.Timer(0.5, backend.store.set, (key, b'{"status": "SUCCESS"}', None))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(CorruptResultError, match="has no 'result'"):
            AsyncResult(task_id, backend=backend).get(timeout=30)
    finally:
        timer.join()
    assert time.monotonic() - started < 30
