"""A solo worker on ``cosmosdbsql://`` results: Celery loads resultstore-cosmosdbsql by URL.

Results go to the Cosmos DB stand-in (``plugins/cosmosdbsql/tests/cosmos_standin.py``, real
HTTP) or to the account in ``RESULTSTORE_TEST_COSMOSDBSQL_URL`` (extra settings as JSON in
``RESULTSTORE_TEST_COSMOSDBSQL_SETTINGS``); the broker is Redis.  Chords are counted by the
plugin's native accounting (Celery's own backend polls with chord_unlock).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_harness import Worker, base_config
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_cosmosdbsql.host import CosmosDBSQLBackend

STANDIN = (Path(__file__).resolve().parents[2] / "plugins" / "cosmosdbsql" / "tests"
           / "cosmos_standin.py")


@pytest.fixture(scope="module")
def cosmos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    real = os.environ.get("RESULTSTORE_TEST_COSMOSDBSQL_URL")
    if real:
        yield real
        return
    with ServerProcess([sys.executable, str(STANDIN), "{port}"],
                       workdir=tmp_path_factory.mktemp("ci-cosmos")) as server:
        yield f"cosmosdbsql://:a2V5@127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, cosmos_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=52, queue="ci-cosmosdbsql")
    # Celery's default database and collection: a pickled result rebuilds its backend from the
    # URL and current_app's settings (as Celery's own backend does), which the test's client
    # app is not, so settings beyond the URL would be lost there.
    conf["result_backend"] = cosmos_server
    conf.update(json.loads(os.environ.get("RESULTSTORE_TEST_COSMOSDBSQL_SETTINGS") or "{}"))
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-cosmosdbsql"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return CosmosDBSQLBackend


class TestCosmosDBSQLPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Cosmos DB plugin."""

    def test_results_are_celery_items(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        item = store.read(f"celery-task-meta-{result.id}")
        assert {k for k in item if not k.startswith("_")} == {"id", "value", "ttl"}
        assert item["value"].startswith('{"status": "SUCCESS"')
