"""Consul for the tests: a real agent when ``RESULTSTORE_TEST_CONSUL_URL`` is set (e.g.
``consul://127.0.0.1:8500`` from ``compose.yaml``), else the stand-in
(``consul_standin.py``: the HTTP API subset this plugin and python-consul2 use, over real
HTTP) in a subprocess on a free loopback port, stopped at session end.  Each test uses a
fresh key path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from resultstore.testing.servers import real_or_standin

REAL_URL = os.environ.get("RESULTSTORE_TEST_CONSUL_URL")
STANDIN = Path(__file__).with_name("consul_standin.py")


def pytest_report_header() -> str:
    where = f"real agent {urlsplit(REAL_URL).hostname}" if REAL_URL else "the HTTP stand-in"
    return f"resultstore-consul: tests run against {where}"


@pytest.fixture(scope="session")
def consul_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``consul://host:port`` of the agent (no path)."""
    with real_or_standin(REAL_URL, STANDIN, "consul", tmp_path_factory.mktemp("consul")) as url:
        yield url


@pytest.fixture
def consul_url(consul_server: str) -> str:
    """A fresh key path (Celery's ``consul://host:port/<path>``)."""
    return f"{consul_server}/rs-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def real_consul() -> bool:
    return bool(REAL_URL)


def pytest_configure(config: pytest.Config) -> None:
    # python-consul2 (Celery's client, used by the cross-read tests) warns about Consul APIs
    # it wraps each time a client is built; none of them is used here.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:consul.base")
