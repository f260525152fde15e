"""A real moto server (DynamoDB API, loopback, free port, stopped at session end)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.moto import moto_argv
from resultstore.testing.servers import ServerProcess


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(moto_argv(), workdir=Path(tmp_path_factory.mktemp("moto"))) as server:
        yield server


@pytest.fixture(scope="session")
def dynamodb_url(moto_server: ServerProcess) -> str:
    """A URL as Celery's DynamoDBBackend takes it (an IP host means a local endpoint)."""
    return f"dynamodb://test:test@127.0.0.1:{moto_server.port}/results-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def open_dynamodb() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_dynamodb(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
