"""A pouchdb-server (CouchDB's HTTP API) for the session, or a real CouchDB, and a fresh database per test.

``RESULTSTORE_TEST_COUCHDB_URL=couchdb://admin:password@host:5984`` runs every test against
that server instead (``docker compose -f plugins/couchdb/compose.yaml up -d`` starts one).
The local server gets an admin, so every request here is authenticated, as on a real
CouchDB 3 (which has no "admin party").
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from resultstore.testing.servers import ServerProcess

ADMIN = "admin"
#: Where ``nox`` installs the npm emulators (used when ``pouchdb-server`` is not on PATH).
NPM_BIN = Path(__file__).resolve().parents[3] / ".nox" / "npm" / "node_modules" / ".bin"


def _admin_ready(password: str):  # type: ignore[no-untyped-def]
    def ready(server: ServerProcess) -> bool:
        base = f"http://127.0.0.1:{server.port}"
        try:
            httpx.get(base + "/", timeout=1).raise_for_status()
            httpx.put(f"{base}/_config/admins/{ADMIN}", json=password, timeout=5).raise_for_status()
            return True
        except httpx.HTTPError:
            return False

    return ready


@pytest.fixture(scope="session")
def couchdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``couchdb://admin:<password>@host:port`` of the server the tests use (no database)."""
    external = os.environ.get("RESULTSTORE_TEST_COUCHDB_URL")
    if external:
        yield external.rstrip("/")
        return
    password = secrets.token_urlsafe(12)
    binary = shutil.which("pouchdb-server") or str(NPM_BIN / "pouchdb-server")
    argv = [binary, "--in-memory", "--host", "127.0.0.1", "--port", "{port}"]
    with ServerProcess(argv, workdir=tmp_path_factory.mktemp("pouchdb"), ready=_admin_ready(password)
                       ) as server:
        yield f"couchdb://{ADMIN}:{password}@127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def couchdb_password(couchdb_server: str) -> str:
    return urlsplit(couchdb_server).password or ""


@pytest.fixture
def couchdb_url(couchdb_server: str) -> str:
    """A fresh database (created on first use, as Celery does)."""
    return f"{couchdb_server}/rs-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def real_couchdb(couchdb_server: str) -> bool:
    """True when the tests run against ``RESULTSTORE_TEST_COUCHDB_URL`` (a real CouchDB)."""
    return bool(os.environ.get("RESULTSTORE_TEST_COUCHDB_URL"))
