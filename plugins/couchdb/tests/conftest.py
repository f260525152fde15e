"""A pouchdb-server (CouchDB's HTTP API) for the session, or a real CouchDB, and a fresh database per test.

``RESULTSTORE_TEST_COUCHDB_URL=couchdb://admin:password@host:5984`` runs every test against
that server instead (``docker compose -f plugins/couchdb/compose.yaml up -d`` starts one).
The local server gets an admin, so every request here is authenticated, as on a real
CouchDB 3 (which has no "admin party").
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from resultstore.testing.pouchdb import pouchdb_server


@pytest.fixture(scope="session")
def couchdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``couchdb://admin:<password>@host:port`` of the server the tests use (no database)."""
    external = os.environ.get("RESULTSTORE_TEST_COUCHDB_URL")
    if external:
        yield external.rstrip("/")
        return
    with pouchdb_server(tmp_path_factory.mktemp("pouchdb"), secrets.token_urlsafe(12)) as url:
        yield url


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
