"""Elasticsearch for the tests: a real server when ``RESULTSTORE_TEST_ELASTICSEARCH_URL`` is set
(e.g. ``elasticsearch://127.0.0.1:9200`` from ``compose.yaml``), else the stand-in
(``es_standin.py``: the REST subset the client and Celery use, over real HTTP) in a
subprocess on a free loopback port, stopped at session end.  Each session uses a fresh index.
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

REAL_URL = os.environ.get("RESULTSTORE_TEST_ELASTICSEARCH_URL")
STANDIN = Path(__file__).with_name("es_standin.py")


def pytest_report_header() -> str:
    where = f"real server {urlsplit(REAL_URL).hostname}" if REAL_URL else "the HTTP stand-in"
    return f"resultstore-elasticsearch: tests run against {where}"


@pytest.fixture(scope="session")
def es_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``elasticsearch://host:port`` of the server (no index)."""
    with real_or_standin(REAL_URL, STANDIN, "elasticsearch", tmp_path_factory.mktemp("es")) as url:
        yield url


@pytest.fixture(scope="session")
def es_url(es_server_url: str) -> str:
    """A URL as Celery's ElasticsearchBackend takes it, with a fresh index of this session."""
    return f"{es_server_url}/results-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def open_es() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_es(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
