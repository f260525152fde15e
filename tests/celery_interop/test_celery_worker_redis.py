"""A prefork worker on ``redis://``: Celery loads resultstore-redis from its entry point.

Push waiting (pub/sub) and native chords (Celery 5.7's Lua protocol).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import chord
from ci_harness import Worker, base_config
from ci_scenarios import FAST, CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_redis.host import RedisBackend


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess) -> dict[str, Any]:
    conf = base_config(redis_server, db=5, queue="ci-redis")
    conf["result_backend"] = f"redis://127.0.0.1:{redis_server.port}/6"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-redis"), pool="prefork",
                concurrency=2) as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return RedisBackend


class TestRedisPluginWithPreforkWorker(CanvasScenarios):
    """Every scenario on the redis plugin."""

    def test_chord_uses_celery_57_keys(self, app: Any, worker: Worker) -> None:
        add, tsum = app.tasks["ci.add"], app.tasks["ci.tsum"]
        result = chord(add.s(i, 1) for i in range(4))(tsum.s())
        assert result.get(**FAST) == 10
        assert "Task celery.chord_unlock[" not in worker.log
        group_id = result.parent.id
        client = app.backend.backend.store
        assert client.get(f"celery-taskset-meta-{group_id}.c") == b"done"
