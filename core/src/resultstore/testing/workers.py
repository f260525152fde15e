"""A real ``celery worker`` subprocess for tests: configured by JSON, ready on its banner."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from .servers import ServerProcess

__all__ = ["CeleryWorker"]


class CeleryWorker:
    """``celery -A <app_module> worker`` on the config's ``task_default_queue``.

    The app module (found on ``app_dir``) reads ``config`` back from the JSON in
    environment variable ``config_env``.  Stopped with SIGTERM (then SIGKILL) like
    every :class:`~resultstore.testing.servers.ServerProcess`.
    """

    def __init__(self, app_module: str, config: dict[str, Any], workdir: Path, *, config_env: str,
                 app_dir: Path, pool: str = "solo", concurrency: int = 1,
                 name_prefix: str = "") -> None:
        self.config = config
        queue = config.get("task_default_queue", "celery")
        argv = [sys.executable, "-m", "celery", "-A", app_module, "worker", "-P", pool,
                "-c", str(concurrency), "-n", f"{name_prefix}{queue}@%h", "-Q", queue,
                "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"]
        env = {config_env: json.dumps(config),
               "PYTHONPATH": os.pathsep.join([str(app_dir), os.environ.get("PYTHONPATH", "")])}
        self.process = ServerProcess(argv, workdir=workdir, ready=self._ready, env=env, timeout=60)

    @staticmethod
    def _ready(server: ServerProcess) -> bool:
        try:
            return " ready." in server.log.read_text(errors="replace")
        except OSError:
            return False

    @property
    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.process.log.read_text(errors="replace")

    def start(self) -> CeleryWorker:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop(timeout=15)

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
