"""A real PostgreSQL 15 (tmp data dir, loopback, stopped at session end) and SQLite files."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.servers import ServerProcess

PG_BIN = Path(os.environ.get("RESULTSTORE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _pg_ready(server: ServerProcess) -> bool:
    import psycopg

    try:
        psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres",
                        connect_timeout=1).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerProcess]:
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"PostgreSQL not found in {PG_BIN}; set RESULTSTORE_PG_BIN.")
    workdir = Path(tempfile.mkdtemp(prefix="rs-pg-"))
    data = workdir / "data"
    workdir.chmod(0o755)
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    data.chmod(0o700)
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                                 "postgres", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True)
    server = ServerProcess(
        _as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-p", "{port}", "-k", str(data),
                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=200",
                      "-c", "TimeZone=UTC"]),
        workdir=workdir, ready=_pg_ready)
    with server:
        try:
            yield server
        finally:
            subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "stop", "-m",
                                         "fast", "-w"]), capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: ServerProcess) -> str:
    """A SQLAlchemy URL (psycopg 3) of the test database."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{pg_server.port}/postgres"


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A new, empty database on the test server (for tests that shape tables)."""
    import psycopg

    name = f"rs_{uuid.uuid4().hex[:12]}"
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'results.db'}"


@pytest.fixture
def open_backend() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_backend(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
