"""ArangoDB for the tests: a real server when ``RESULTSTORE_TEST_ARANGODB_URL`` is set (e.g.
``arangodb://root:secret@127.0.0.1:8529`` from ``compose.yaml``), else the stand-in
(``arango_standin.py``: the REST subset python-arango and pyArango use, over real HTTP) in a
subprocess on a free loopback port, stopped at session end.  Each session uses a fresh
database (created by the store on first use).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.servers import real_or_standin

REAL_URL = os.environ.get("RESULTSTORE_TEST_ARANGODB_URL")
STANDIN = Path(__file__).with_name("arango_standin.py")


def pytest_report_header() -> str:
    where = f"real server {urlsplit(REAL_URL).hostname}" if REAL_URL else "the HTTP stand-in"
    return f"resultstore-arangodb: tests run against {where}"


@pytest.fixture(scope="session")
def arango_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``arangodb://[user:password@]host:port`` of the server (no path)."""
    with real_or_standin(REAL_URL, STANDIN, "arangodb", tmp_path_factory.mktemp("arango")) as url:
        yield url


@pytest.fixture(scope="session")
def arango_url(arango_server_url: str) -> str:
    """A URL as Celery's ArangoDbBackend takes it: a fresh database of this session."""
    return f"{arango_server_url}/rs{uuid.uuid4().hex[:8]}"


@pytest.fixture
def open_arango() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_arango(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
