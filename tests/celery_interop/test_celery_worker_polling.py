"""A solo worker on a store with get/set/delete only: polling waits, chord_unlock chords."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import chord
from ci_harness import Worker, base_config
from ci_rskv import PlainRedisBackend
from ci_scenarios import FAST, CanvasScenarios

from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess) -> dict[str, Any]:
    conf = base_config(redis_server, db=1, queue="ci-polling")
    conf["result_backend"] = f"rskv://127.0.0.1:{redis_server.port}/2"
    conf["override_backends"] = {"rskv": "ci_rskv:PlainRedisBackend"}
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-polling"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return PlainRedisBackend


class TestPollingStoreWithSoloWorker(CanvasScenarios):
    """Every scenario on the fallback paths (no counting, no push)."""

    grows_chords = False

    def test_chords_are_joined_by_chord_unlock(self, app: Any, worker: Worker) -> None:
        add, tsum = app.tasks["ci.add"], app.tasks["ci.tsum"]
        assert chord([add.s(1, 1), add.s(2, 2)], tsum.s())().get(**FAST) == 6
        assert "Task celery.chord_unlock[" in worker.log
