"""Real ``celery worker`` subprocesses and app configs for the interop tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from resultstore.testing.servers import ServerProcess

HERE = Path(__file__).parent


class Worker:
    """A ``celery worker`` subprocess for one app config; ready when its banner says so."""

    def __init__(self, config: dict[str, Any], workdir: Path, pool: str = "solo",
                 concurrency: int = 1) -> None:
        self.config = config
        queue = config.get("task_default_queue", "celery")
        argv = [sys.executable, "-m", "celery", "-A", "ci_worker", "worker", "-P", pool,
                "-c", str(concurrency), "-n", f"ci-{queue}@%h", "-Q", queue,
                "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"]
        env = {"RS_CI_CONFIG": json.dumps(config),
               "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        self.process = ServerProcess(argv, workdir=workdir, ready=self._ready, env=env,
                                     timeout=60)

    @staticmethod
    def _ready(server: ServerProcess) -> bool:
        try:
            return " ready." in server.log.read_text(errors="replace")
        except OSError:
            return False

    @property
    def log(self) -> str:
        return self.process.log.read_text(errors="replace")

    def __enter__(self) -> Worker:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop(timeout=15)


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
