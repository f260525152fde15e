"""The real redis-server of the Celery interop tests (broker, stores, task side effects).

One server per session; each test module provides a ``config`` and starts one
worker (``ci_harness.Worker``) that all its tests reuse through the ``app`` below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ci_app import make_app

from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--databases", "64"]
    with ServerProcess(argv, workdir=tmp_path_factory.mktemp("ci-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def app(config: dict[str, Any], worker: Any) -> Any:
    """The client app of a module, once its ``worker`` (a module fixture) is running."""
    return make_app(config)


@pytest.fixture(autouse=True)
def _client_may_wait() -> None:
    """This process is a client: undo a "task join will block" flag left by in-process workers.

    A Celery worker started in the test process (by any earlier test) marks the
    whole process as a worker, after which ``result.get()`` raises "Never call
    result.get() within a task!".
    """
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
