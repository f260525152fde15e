"""A solo worker on ``cassandra://`` results: Celery loads resultstore-cassandra by URL.

Results go to the Cassandra stand-in's shared database process (the worker and this client
are separate processes: ``plugins/cassandra/tests/cassandra_standin/remote.py``), or to the
server in ``RESULTSTORE_TEST_CASSANDRA_URL``; the broker is Redis.  Chords are counted by the
plugin's native accounting (Celery's own Cassandra backend polls with chord_unlock).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cassandra.cluster
import pytest
from ci_harness import HERE, base_config
from ci_scenarios import FAST, CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore.testing.workers import CeleryWorker
from resultstore_cassandra.host import CassandraBackend

PLUGIN_TESTS = Path(__file__).resolve().parents[2] / "plugins" / "cassandra" / "tests"
REAL_URL = os.environ.get("RESULTSTORE_TEST_CASSANDRA_URL")


@pytest.fixture(scope="module")
def cassandra_results() -> Iterator[tuple[str, list[Any] | None]]:
    """(URL base, stand-in address for the worker or ``None``); this process is pointed at
    the same shared stand-in for the module's duration."""
    if REAL_URL:
        yield REAL_URL.rstrip("/"), None
        return
    sys.path.insert(0, str(PLUGIN_TESTS))
    from cassandra_standin.driver import StandinCluster, StandinServer
    from cassandra_standin.remote import RemoteDatabase, serve

    authkey = uuid.uuid4().bytes
    manager, address = serve(authkey)
    server = StandinServer(database=RemoteDatabase(address, authkey))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cassandra.cluster, "Cluster", StandinCluster)
        patch.setattr(StandinCluster, "server", server, raising=False)
        yield "cassandra://127.0.0.1:9042", [address[0], address[1], authkey.hex()]
    server.close()
    manager.shutdown()


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, cassandra_results: tuple[str, Any]) -> dict[str, Any]:
    base, standin = cassandra_results
    if REAL_URL:  # the keyspace the plugin's tests use
        sys.path.insert(0, str(PLUGIN_TESTS))
        from cassandra_helpers import ensure_keyspace

        ensure_keyspace(REAL_URL)
    conf = base_config(redis_server, db=24, queue="ci-cassandra")
    conf["result_backend"] = f"{base}/resultstore_test/ci_{uuid.uuid4().hex[:8]}"
    conf["ci_cassandra_standin"] = standin
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with CeleryWorker("ci_worker_cassandra", config, tmp_path_factory.mktemp("worker-cassandra"),
                      config_env="RS_CI_CONFIG", app_dir=HERE, name_prefix="ci-") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return CassandraBackend


class TestCassandraPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Cassandra plugin."""

    def test_results_are_celerys_rows(self, app: Any) -> None:
        from celery.backends.cassandra import CassandraBackend as CeleryCassandraBackend

        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(**FAST) == 42
        store = app.backend.backend.store
        celery_app = type(app)("celery-reader", set_as_current=False)
        celery_app.conf.update(cassandra_servers=list(store.config.servers),
                               cassandra_port=store.config.port,
                               cassandra_keyspace=store.config.keyspace,
                               cassandra_table=store.config.table)
        celery = CeleryCassandraBackend(app=celery_app)
        try:
            assert celery.get_task_meta(result.id)["result"] == 42
        finally:
            celery._cluster.shutdown()
