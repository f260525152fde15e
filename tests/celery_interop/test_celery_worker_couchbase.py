"""A solo worker on ``couchbase://`` results: Celery loads resultstore-couchbase by URL.

Results go to the Couchbase stand-in's shared document process (the worker and this client
are separate processes: ``plugins/couchbase/tests/couchbase_fake/remote.py``; the SDK's own
option, transcoder and result code runs in both), or to the server in
``RESULTSTORE_TEST_COUCHBASE_URL``; the broker is Redis.  Chords are counted by the plugin's
native CAS accounting (Celery's own Couchbase backend polls with chord_unlock).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_harness import HERE, base_config
from ci_scenarios import FAST, CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore.testing.workers import CeleryWorker

pytest.importorskip("resultstore_couchbase", reason="resultstore-couchbase is not installed")

PLUGIN_TESTS = Path(__file__).resolve().parents[2] / "plugins" / "couchbase" / "tests"
REAL_URL = os.environ.get("RESULTSTORE_TEST_COUCHBASE_URL")


@pytest.fixture(scope="module")
def couchbase_results() -> Iterator[tuple[str, list[Any] | None]]:
    """(URL, stand-in address for the worker or ``None``); this process is pointed at the same
    shared stand-in for the module's duration."""
    if REAL_URL:
        yield REAL_URL, None
        return
    import acouchbase.cluster
    import couchbase.cluster

    sys.path.insert(0, str(PLUGIN_TESTS))
    from couchbase_fake.aio import FakeAsyncCluster
    from couchbase_fake.remote import RemoteServer, serve
    from couchbase_fake.sdk import FakeCluster

    authkey = uuid.uuid4().bytes
    manager, address = serve(authkey)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(couchbase.cluster, "Cluster", FakeCluster)
        patch.setattr(acouchbase.cluster, "Cluster", FakeAsyncCluster)
        patch.setattr(FakeCluster, "server", RemoteServer(address, authkey))
        patch.setattr(FakeAsyncCluster, "server", FakeCluster.server)
        yield "couchbase://ci:ci-password@127.0.0.1/results", [address[0], address[1], authkey.hex()]
    manager.shutdown()


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, couchbase_results: tuple[str, Any]) -> dict[str, Any]:
    url, fake = couchbase_results
    conf = base_config(redis_server, db=37, queue="ci-couchbase")
    conf["result_backend"] = url
    conf["ci_couchbase_fake"] = fake
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with CeleryWorker("ci_worker_couchbase", config, tmp_path_factory.mktemp("worker-couchbase"),
                      config_env="RS_CI_CONFIG", app_dir=HERE, name_prefix="ci-") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    from resultstore_couchbase.host import CouchbaseBackend

    return CouchbaseBackend


class TestCouchbasePluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Couchbase plugin."""

    def test_results_are_celerys_documents(self, app: Any) -> None:
        """The task's document is Celery's: its key, a JSON string of Celery's meta."""
        import json

        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(**FAST) == 42
        store = app.backend.backend.store
        document = store.collection.get(f"celery-task-meta-{result.id}")  # the SDK's JSON transcoder
        meta = json.loads(document.value)
        assert (meta["status"], meta["result"], meta["task_id"]) == ("SUCCESS", 42, result.id)
