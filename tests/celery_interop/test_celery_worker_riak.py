"""A solo worker on ``riak://`` results: Celery 5.7 maps the alias to a module it no longer
ships; with resultstore-riak installed it loads the plugin by URL.

Results go to the Riak stand-in (``plugins/riak/tests/riak_standin.py``, real HTTP) or to
the node in ``RESULTSTORE_TEST_RIAK_URL``, in the strongly consistent bucket type ``strong``
(native chords); the broker is Redis.
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
    conf = base_config(redis_server, db=33, queue="ci-riak")
    conf["result_backend"] = f"{riak_server}/ci-{uuid.uuid4().hex[:8]}?bucket_type=strong"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-riak"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return RiakBackend


class TestRiakPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Riak plugin."""

    def test_results_are_celery4_objects(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        raw = store.client.get(store.path(f"celery-task-meta-{result.id}"))
        assert raw.headers["Content-Type"] == "application/json"
        assert json.loads(json.loads(raw.content))["status"] == "SUCCESS"
