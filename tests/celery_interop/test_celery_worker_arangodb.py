"""A solo worker on ``arangodb://`` results: Celery loads resultstore-arangodb by URL.

Results go to the ArangoDB stand-in (``plugins/arangodb/tests/arango_standin.py``, real
HTTP) or to the server in ``RESULTSTORE_TEST_ARANGODB_URL``; the broker is Redis.  Chords
are counted by the plugin's native accounting (Celery's own backend polls with chord_unlock).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_harness import Worker, base_config, plugin_server
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_arangodb.host import ArangoDbBackend


@pytest.fixture(scope="module")
def arango_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with plugin_server("arangodb", "arango_standin.py", "arangodb",
                       tmp_path_factory.mktemp("ci-arango")) as url:
        yield url


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, arango_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=51, queue="ci-arangodb")
    conf["result_backend"] = f"{arango_server}/ci{uuid.uuid4().hex[:8]}/celery"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-arangodb"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return ArangoDbBackend


class TestArangoDBPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the ArangoDB plugin."""

    def test_results_are_celery_documents(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        doc = store.get_document(f"celery-task-meta-{result.id}")
        assert set(doc) == {"_key", "_id", "_rev", "task", "expires_at"}
        assert doc["task"].startswith('{"status": "SUCCESS"')
