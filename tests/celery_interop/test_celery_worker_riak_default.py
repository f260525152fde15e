"""A solo worker on ``riak://`` results in the ``default`` bucket type (eventually
consistent, Celery 4's): no native chords there, so chords complete through Celery's
``chord_unlock`` polling, as with Celery 4's backend.  Stand-in or
``RESULTSTORE_TEST_RIAK_URL`` as ``test_celery_worker_riak.py``; the broker is Redis.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_harness import Worker, base_config, plugin_server
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_riak.host import RiakBackend


@pytest.fixture(scope="module")
def riak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with plugin_server("riak", "riak_standin.py", "riak",
                       tmp_path_factory.mktemp("ci-riak")) as url:
        yield url


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, riak_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=34, queue="ci-riak-default")
    conf["result_backend"] = f"{riak_server}/ci-{uuid.uuid4().hex[:8]}"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-riak-default"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return RiakBackend


class TestRiakDefaultTypeWithSoloWorker(CanvasScenarios):
    """Every scenario on the default (eventually consistent) type: chords by chord_unlock."""

    #: Polled chords cannot grow (``Task.add_to_chord`` raises, as with Celery's backends
    #: without native chords).
    grows_chords = False

    def test_chords_are_not_native_here(self, app: Any) -> None:
        assert not app.backend.backend.supports_native_chords

    def test_results_are_celery4_objects(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        raw = store.client.get(store.path(f"celery-task-meta-{result.id}"))
        assert raw.headers["Content-Type"] == "application/json"
        assert json.loads(json.loads(raw.content))["status"] == "SUCCESS"
