"""Real ``celery worker`` subprocesses and app configs for the interop tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resultstore.testing.servers import ServerProcess
from resultstore.testing.workers import CeleryWorker

HERE = Path(__file__).parent


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
