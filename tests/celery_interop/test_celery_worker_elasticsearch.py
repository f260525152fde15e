"""A solo worker on ``elasticsearch://`` results: Celery loads resultstore-elasticsearch by URL.

Results go to the Elasticsearch stand-in (``plugins/elasticsearch/tests/es_standin.py``, real
HTTP) or to the server in ``RESULTSTORE_TEST_ELASTICSEARCH_URL``; the broker is Redis.  Chords
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
from resultstore_elasticsearch.host import ElasticsearchBackend


@pytest.fixture(scope="module")
def es_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with plugin_server("elasticsearch", "es_standin.py", "elasticsearch",
                       tmp_path_factory.mktemp("ci-es")) as url:
        yield url


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, es_server: str) -> dict[str, Any]:
    conf = base_config(redis_server, db=23, queue="ci-es")
    conf["result_backend"] = f"{es_server}/ci-{uuid.uuid4().hex[:8]}"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-es"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return ElasticsearchBackend


class TestElasticsearchPluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the Elasticsearch plugin."""

    def test_results_are_celery_documents(self, app: Any) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        store = app.backend.backend.store
        source = store.get_document(f"celery-task-meta-{result.id}")["_source"]
        assert set(source) == {"result", "@timestamp", "expires"}
        assert source["result"].startswith('{"status": "SUCCESS"')
