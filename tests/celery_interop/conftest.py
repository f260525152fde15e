"""The real redis-server of the Celery interop tests (broker, stores, task side effects).

One server per session; each test module starts one worker (``ci_harness.Worker``)
and reuses it for all its tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--databases", "64"]
    with ServerProcess(argv, workdir=tmp_path_factory.mktemp("ci-redis")) as server:
        yield server

