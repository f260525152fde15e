"""A solo worker on ``couchdb://`` results: Celery loads resultstore-couchdb by URL.

Results go to a pouchdb-server (npm ``pouchdb-server@4``, in memory; CouchDB's HTTP API) or
to the server in ``RESULTSTORE_TEST_COUCHDB_URL``; the broker is Redis.  Chords complete
through the plugin's MVCC accounting (Celery's own ``CouchBackend`` polls with chord_unlock),
and waits are woken by the ``_changes`` feed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_harness import Worker, base_config
from ci_scenarios import CanvasScenarios

from resultstore.testing.pouchdb import pouchdb_server
from resultstore.testing.servers import ServerProcess
from resultstore_couchdb.host import CouchDBBackend


@pytest.fixture(scope="module")
def couchdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    real = os.environ.get("RESULTSTORE_TEST_COUCHDB_URL")
    if real:
        yield real.rstrip("/")
        return
    with pouchdb_server(tmp_path_factory.mktemp("ci-couchdb")) as url:
        yield url


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, couchdb_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=29, queue="ci-couchdb")
    conf["result_backend"] = f"{couchdb_server}/ci-{uuid.uuid4().hex[:8]}"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-couchdb"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return CouchDBBackend


class TestCouchDBPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the CouchDB plugin."""

    def test_results_are_celery_documents(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        doc = store.client.get(store.path(f"celery-task-meta-{result.id}")).json()
        assert set(doc) == {"_id", "_rev", "value", "resultstore_expires"}
        assert doc["value"].startswith('{"status": "SUCCESS"')
