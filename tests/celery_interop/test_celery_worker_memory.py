"""``memory://`` results with an in-process (threaded) worker: one process shares them.

Celery's ``start_worker`` runs a real worker in a thread of the test process,
on kombu's in-memory broker; every scenario runs against core's memory store
(push waiting and native chords).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from ci_app import make_app
from ci_scenarios import CanvasScenarios

from resultstore.celery.builtins import MemoryBackend
from resultstore.testing.servers import ServerProcess


class _InProcessWorker:
    log = ""  # no banner in process; the class check below is enough


@pytest.fixture(scope="module")
def app(redis_server: ServerProcess) -> Iterator[Any]:
    app = make_app({
        "broker_url": "memory://",
        "broker_transport_options": {"polling_interval": 0.01},
        "result_backend": "resultstore.celery.builtins:MemoryBackend",
        "resultstore_url": "memory://ci-threaded",
        "result_chord_join_timeout": 10.0,
        "result_backend_thread_safe": True,
        "ci_redis_url": f"redis://127.0.0.1:{redis_server.port}/8",
    })
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=10):
        yield app


@pytest.fixture(scope="module")
def worker(app: Any) -> _InProcessWorker:
    return _InProcessWorker()


@pytest.fixture(scope="module")
def backend_class() -> type:
    return MemoryBackend


class TestMemoryStoreWithThreadedWorker(CanvasScenarios):
    """Every scenario, in one process."""

    def test_celery_loaded_our_class(self, app: Any, worker: Any, backend_class: type) -> None:
        assert type(app.backend) is backend_class
        assert app.backend.as_uri() == "memory://ci-threaded"
