"""A real RabbitMQ node and real ``celery worker`` processes for the rpc tests (and the bench).

RabbitMQ runs in the foreground under :class:`ServerProcess` (its own process
group, so nothing survives the session) with every path under a temporary
directory, loopback ports picked free, and a private ``epmd`` port so the
machine's Erlang port mapper is never touched.  Readiness: the AMQP port
accepts connections and ``rabbitmqctl -n <node> status`` succeeds; stop:
``rabbitmqctl -n <node> stop``, then the process group, then the private epmd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from resultstore.testing.servers import ServerProcess, free_port
from resultstore.testing.workers import CeleryWorker

HERE = Path(__file__).parent


def sbin(name: str) -> str:
    """``name`` from PATH, else from /usr/sbin (where Debian puts the RabbitMQ commands)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    return found or name  # not installed: ServerProcess reports it loudly


class RabbitMQ:
    """One throw-away RabbitMQ node (needs root or the ``rabbitmq`` user, as the Debian package)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"rs{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.env = {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_LOGS": "-",  # the server log goes to ServerProcess's log file
            "ERL_EPMD_PORT": str(self.epmd_port),
        }
        self.process = ServerProcess([sbin("rabbitmq-server")], workdir=workdir, port=self.port,
                                     ready=self._ready, timeout=60, env=self.env)

    def ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n <node> ...`` against this node."""
        return subprocess.run([sbin("rabbitmqctl"), "-n", self.node, *args], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **self.env})

    def _ready(self, server: ServerProcess) -> bool:
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return self.ctl("status").returncode == 0

    def start(self) -> RabbitMQ:
        for sub in ("mnesia", "log"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        (self.workdir / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # the Debian wrapper runs the node as the rabbitmq user
            shutil.chown(self.workdir, "rabbitmq", "rabbitmq")
            for path in self.workdir.rglob("*"):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.process.start()
        return self

    def stop(self) -> None:
        try:
            # With the pid file, rabbitmqctl returns once the VM has exited.
            self.ctl("stop", self.env["RABBITMQ_PID_FILE"], timeout=60)
        finally:
            self.process.stop(timeout=15)
            self._kill_epmd()

    def _kill_epmd(self) -> None:
        """Stop the private epmd (it refuses while a node is still registered: retry briefly)."""
        deadline = time.monotonic() + 15
        while True:
            done = subprocess.run([sbin("epmd"), "-port", str(self.epmd_port), "-kill"],
                                  capture_output=True, text=True, timeout=10)
            if "Killed" in done.stdout or "Cannot connect" in done.stdout + done.stderr:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"epmd on port {self.epmd_port} did not stop: {done.stdout}")
            time.sleep(0.2)

    def queues(self) -> dict[str, dict[str, str]]:
        """``name -> {messages, arguments, durable, auto_delete}`` as rabbitmqctl reports them."""
        out = self.ctl("list_queues", "-q", "--formatter", "json", "name", "messages",
                       "arguments", "durable", "auto_delete")
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return {q["name"]: q for q in json.loads(out.stdout or "[]")}


def worker_config(broker_url: str, queue: str, backend: str, **extra: Any) -> dict[str, Any]:
    """The app config of a test worker (or client): broker, result backend, its queue."""
    return {"broker_url": broker_url, "result_backend": backend, "task_default_queue": queue,
            **extra}


class Worker(CeleryWorker):
    """A ``celery worker`` subprocess of ``rpc_worker`` configured by JSON."""

    def __init__(self, config: dict[str, Any], workdir: Path, *, pool: str = "solo",
                 concurrency: int = 1) -> None:
        super().__init__("rpc_worker", config, workdir, config_env="RS_RPC_CONFIG", app_dir=HERE,
                         pool=pool, concurrency=concurrency)
