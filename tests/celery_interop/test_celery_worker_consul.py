"""A solo worker on ``consul://`` results: Celery loads resultstore-consul by URL.

Results go to the Consul stand-in (``plugins/consul/tests/consul_standin.py``, real HTTP)
or to the agent in ``RESULTSTORE_TEST_CONSUL_URL``; the broker is Redis.  Chords are
counted natively (transactions on ``ModifyIndex``); waits are pushed by blocking queries.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_harness import Worker, base_config, plugin_server
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_consul.host import ConsulBackend


@pytest.fixture(scope="module")
def consul_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with plugin_server("consul", "consul_standin.py", "consul",
                       tmp_path_factory.mktemp("ci-consul")) as url:
        yield url


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, consul_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=31, queue="ci-consul")
    conf["result_backend"] = f"{consul_server}/ci-{uuid.uuid4().hex[:8]}"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-consul"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return ConsulBackend


class TestConsulPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Consul plugin."""

    def test_results_are_celery_keys_held_by_a_session(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        name = store.name(f"celery-task-meta-{result.id}")
        entry = store.client.get(store.kv_path(name)).json()[0]
        assert base64.b64decode(entry["Value"]).startswith(b'{"status": "SUCCESS"')
        assert entry["Session"] and entry["Flags"] > 0  # Celery's session expiry + ours
