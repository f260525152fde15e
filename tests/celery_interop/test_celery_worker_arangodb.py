"""A solo worker on ``arangodb://`` results: Celery loads resultstore-arangodb by URL.

Results go to the ArangoDB stand-in (``plugins/arangodb/tests/arango_standin.py``, real
HTTP) or to the server in ``RESULTSTORE_TEST_ARANGODB_URL``; the broker is Redis.  Chords
are counted by the plugin's native accounting (Celery's own backend polls with chord_unlock).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_harness import Worker, base_config
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_arangodb.host import ArangoDbBackend

STANDIN = (Path(__file__).resolve().parents[2] / "plugins" / "arangodb" / "tests"
           / "arango_standin.py")


@pytest.fixture(scope="module")
def arango_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    real = os.environ.get("RESULTSTORE_TEST_ARANGODB_URL")
    if real:
        yield real.rstrip("/")
        return
    with ServerProcess([sys.executable, str(STANDIN), "{port}"],
                       workdir=tmp_path_factory.mktemp("ci-arango")) as server:
        yield f"arangodb://127.0.0.1:{server.port}"


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
