"""A real memcached (loopback, free port, stopped at session end)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="session")
def memcached_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # memcached refuses to run as root
    with ServerProcess(["memcached", "-l", "127.0.0.1", "-p", "{port}", "-U", "0", "-m", "64",
                        "-t", "2", *user],
                       workdir=Path(tmp_path_factory.mktemp("memcached"))) as server:
        yield server


@pytest.fixture(scope="session")
def memcached_url(memcached_server: ServerProcess) -> str:
    """The URL Celery hands the backend (``cache+`` already split off)."""
    return f"memcached://127.0.0.1:{memcached_server.port}/"


@pytest.fixture
def open_cache() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_cache(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
