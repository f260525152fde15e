"""Cosmos DB for the tests: a real account or emulator when ``RESULTSTORE_TEST_COSMOSDBSQL_URL``
is set (e.g. the emulator from ``compose.yaml``, with ``RESULTSTORE_TEST_COSMOSDBSQL_SETTINGS``
holding extra settings as JSON, such as ``{"cosmosdbsql_scheme": "https",
"cosmosdbsql_verify": false}``), else the stand-in (``cosmos_standin.py``: the REST subset
azure-cosmos and pydocumentdb use, over real HTTP) in a subprocess on a free loopback port,
stopped at session end.  Each session uses a fresh database.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.servers import ServerProcess

REAL_URL = os.environ.get("RESULTSTORE_TEST_COSMOSDBSQL_URL")
REAL_SETTINGS: dict[str, Any] = json.loads(os.environ.get("RESULTSTORE_TEST_COSMOSDBSQL_SETTINGS")
                                           or "{}")
STANDIN = Path(__file__).with_name("cosmos_standin.py")
#: The emulator's well-known key (public, in Microsoft's documentation); the stand-in takes any.
EMULATOR_KEY = ("C2y6yDjf5%2FR%2Bob0N8A7Cgv30VRDJIWEHLM%2B4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy"
                "67XIw%2FJw%3D%3D")


def pytest_report_header() -> str:
    where = f"real server {urlsplit(REAL_URL).hostname}" if REAL_URL else "the HTTP stand-in"
    return f"resultstore-cosmosdbsql: tests run against {where}"


@pytest.fixture(scope="session")
def cosmos_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``cosmosdbsql://:<key>@host:port`` of the account."""
    if REAL_URL:
        yield REAL_URL
        return
    with ServerProcess([sys.executable, str(STANDIN), "{port}"],
                       workdir=Path(tmp_path_factory.mktemp("cosmos"))) as server:
        yield f"cosmosdbsql://:{EMULATOR_KEY}@127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def cosmos_settings() -> dict[str, Any]:
    """Settings of this session: a fresh database, plus the real server's extra settings."""
    return {"cosmosdbsql_database_name": f"rs{uuid.uuid4().hex[:8]}", **REAL_SETTINGS}


@pytest.fixture
def open_cosmos(cosmos_settings: dict[str, Any]) -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_cosmos(url, **settings)`` with the session's settings under them; every backend
    opened is closed at teardown."""
    with opened_backends(**cosmos_settings) as open_backend:
        yield open_backend
