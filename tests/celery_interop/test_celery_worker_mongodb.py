"""A solo worker on ``mongodb://`` results: Celery loads resultstore-mongodb by URL.

Results go to one mongomock server shared by the worker and this client through a manager
process (``plugins/mongodb/tests/mongodb_remote.py``: no MongoDB server can be installed
here), or to the server in ``RESULTSTORE_TEST_MONGODB_URL``; the broker is Redis.  Chords are
counted by the plugin's native accounting (Celery's own MongoBackend polls with chord_unlock).
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
from resultstore_mongodb.host import MongoBackend

PLUGIN_TESTS = Path(__file__).resolve().parents[2] / "plugins" / "mongodb" / "tests"
REAL_URL = os.environ.get("RESULTSTORE_TEST_MONGODB_URL")


@pytest.fixture(scope="module")
def mongodb_results() -> Iterator[tuple[str, list[Any] | None]]:
    """(URL, stand-in address for the worker or ``None``); this process is pointed at the
    same shared stand-in for the module's duration."""
    database = f"ci_{uuid.uuid4().hex[:8]}"
    if REAL_URL:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(REAL_URL)
        yield urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, "")), None
        return
    sys.path.insert(0, str(PLUGIN_TESTS))
    from mongodb_remote import attached, serve

    authkey = uuid.uuid4().bytes
    manager, address = serve(authkey)
    try:
        with attached(address, authkey):
            yield (f"mongodb://shared-standin:27017/{database}",
                   [address[0], address[1], authkey.hex()])
    finally:
        manager.shutdown()


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, mongodb_results: tuple[str, Any]) -> dict[str, Any]:
    url, standin = mongodb_results
    conf = base_config(redis_server, db=27, queue="ci-mongodb")
    conf["result_backend"] = url
    conf["ci_mongodb_standin"] = standin
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with CeleryWorker("ci_worker_mongodb", config, tmp_path_factory.mktemp("worker-mongodb"),
                      config_env="RS_CI_CONFIG", app_dir=HERE, name_prefix="ci-") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return MongoBackend


class TestMongoDBPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the MongoDB plugin."""

    def test_results_are_celerys_documents(self, app: Any) -> None:
        from celery.backends.mongodb import MongoBackend as CeleryMongoBackend

        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(**FAST) == 42
        celery = CeleryMongoBackend(app=type(app)("celery-reader", set_as_current=False),
                                    url=app.conf.result_backend)
        assert celery.get_task_meta(result.id)["result"] == 42
        document = app.backend.backend.store.tasks.find_one({"_id": result.id})
        assert document["status"] == "SUCCESS" and document["result"] == "42"
