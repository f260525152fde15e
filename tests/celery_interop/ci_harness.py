"""Real ``celery worker`` subprocesses and app configs for the interop tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from resultstore.testing.servers import ServerProcess
from resultstore.testing.workers import CeleryWorker

HERE = Path(__file__).parent
PLUGINS = HERE.resolve().parents[1] / "plugins"


class Worker(CeleryWorker):
    """A ``celery worker`` subprocess of ``ci_worker`` for one app config."""

    def __init__(self, config: dict[str, Any], workdir: Path, pool: str = "solo",
                 concurrency: int = 1) -> None:
        super().__init__("ci_worker", config, workdir, config_env="RS_CI_CONFIG", app_dir=HERE,
                         pool=pool, concurrency=concurrency, name_prefix="ci-")


def base_config(redis_server: ServerProcess, db: int, queue: str) -> dict[str, Any]:
    """Broker on ``db``, fast chord_unlock polling, the side-effect Redis for tasks."""
    url = f"redis://127.0.0.1:{redis_server.port}"
    return {
        "broker_url": f"{url}/{db}",
        "task_default_queue": queue,
        "result_chord_retry_interval": 0.1,
        "result_chord_join_timeout": 10.0,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "ci_redis_url": f"{url}/{db}",
    }


@contextmanager
def plugin_server(plugin: str, standin: str, scheme: str, workdir: Path) -> Iterator[str]:
    """The server in ``RESULTSTORE_TEST_<PLUGIN>_URL`` (trailing ``/`` dropped) when set, else
    ``plugins/<plugin>/tests/<standin>`` under ServerProcess: ``scheme://127.0.0.1:<port>``."""
    real = os.environ.get(f"RESULTSTORE_TEST_{plugin.upper()}_URL")
    if real:
        yield real.rstrip("/")
        return
    with ServerProcess([sys.executable, str(PLUGINS / plugin / "tests" / standin), "{port}"],
                       workdir=workdir) as server:
        yield f"{scheme}://127.0.0.1:{server.port}"
