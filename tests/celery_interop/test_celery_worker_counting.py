"""A prefork worker on a store with INCR: chords counted by core; extended, compressed results.

The class is named as ``result_backend = "ci_rskv:IncrRedisBackend"`` (a
``module:Class`` path, so Celery passes no URL; ``resultstore_url`` gives it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import chord
from celery.exceptions import TimeLimitExceeded, WorkerLostError
from ci_harness import Worker, base_config
from ci_rskv import IncrRedisBackend
from ci_scenarios import FAST, CanvasScenarios, wait_state

from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess) -> dict[str, Any]:
    conf = base_config(redis_server, db=3, queue="ci-counting")
    conf["result_backend"] = "ci_rskv:IncrRedisBackend"
    conf["resultstore_url"] = f"rskv://127.0.0.1:{redis_server.port}/4"
    conf["result_extended"] = True
    conf["result_compression"] = "gzip"
    conf["task_track_started"] = True
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-counting"), pool="prefork",
                concurrency=2) as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return IncrRedisBackend


class TestCountingStoreWithPreforkWorker(CanvasScenarios):
    """Every scenario, with chords completed by the last header part."""


    def test_result_extended_fields(self, app: Any) -> None:
        result = app.tasks["ci.add"].apply_async((2, 5), kwargs={})
        assert result.get(**FAST) == 7
        assert result.name == "ci.add"
        assert result.args == [2, 5]
        assert result.kwargs == {}
        assert result.queue == "ci-counting"
        assert result.retries == 0
        assert result.worker.startswith("ci-ci-counting@")

    def test_chord_completes_without_chord_unlock(self, app: Any, worker: Worker) -> None:
        add, tsum = app.tasks["ci.add"], app.tasks["ci.tsum"]
        result = chord(add.s(i, 1) for i in range(6))(tsum.s())
        assert result.get(**FAST) == 21
        assert "Task celery.chord_unlock[" not in worker.log

    def test_lost_worker_process_is_a_failure(self, app: Any) -> None:
        result = app.tasks["ci.die"].delay()
        with pytest.raises(WorkerLostError):
            result.get(**FAST)
        assert result.state == "FAILURE"

    def test_results_are_compressed_with_celerys_marker(self, app: Any, config: dict[str, Any]
                                                         ) -> None:
        result = app.tasks["ci.identity"].delay("x" * 1000)
        assert result.get(**FAST) == "x" * 1000
        raw = app.backend.backend.store.get(f"celery-task-meta-{result.id}")
        assert raw.startswith(b"\x00celery-compressed\x00application/x-gzip\x00")

    def test_track_started(self, app: Any) -> None:
        result = app.tasks["ci.sleep"].delay(0.5)
        wait_state(result, "STARTED")
        assert result.info["pid"] > 0
        assert result.get(**FAST) == 0.5

    def test_revoke_terminate_running_task(self, app: Any) -> None:
        result = app.tasks["ci.sleep"].delay(20)
        wait_state(result, "STARTED")
        result.revoke(terminate=True)
        wait_state(result, "REVOKED")

    def test_hard_time_limit_is_a_failure(self, app: Any) -> None:
        result = app.tasks["ci.limited"].delay()
        with pytest.raises(TimeLimitExceeded):
            result.get(**FAST)
