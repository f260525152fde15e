"""Riak for the tests: a real node when ``RESULTSTORE_TEST_RIAK_URL`` is set (e.g.
``riak://127.0.0.1:8098`` from ``compose.yaml``, whose node has the bucket types
``strong`` (``consistent=true``) and ``siblings`` (``allow_mult=true``)), else the stand-in
(``riak_standin.py``: the HTTP API subset this plugin uses, over real HTTP) in a subprocess
on a free loopback port, stopped at session end.  Each test uses a fresh bucket.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from resultstore.testing.servers import real_or_standin

REAL_URL = os.environ.get("RESULTSTORE_TEST_RIAK_URL")
STANDIN = Path(__file__).with_name("riak_standin.py")


def pytest_report_header() -> str:
    where = f"real node {urlsplit(REAL_URL).hostname}" if REAL_URL else "the HTTP stand-in"
    return f"resultstore-riak: tests run against {where}"


@pytest.fixture(scope="session")
def riak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``riak://host:port`` of the node (no bucket)."""
    with real_or_standin(REAL_URL, STANDIN, "riak", tmp_path_factory.mktemp("riak")) as url:
        yield url


@pytest.fixture
def riak_bucket(riak_server: str) -> str:
    """A fresh bucket of the default (eventually consistent) type."""
    return f"{riak_server}/rs-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def riak_url(riak_bucket: str) -> str:
    """A fresh bucket of the strongly consistent type ``strong`` (native chords)."""
    return f"{riak_bucket}?bucket_type=strong"
