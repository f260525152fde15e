"""Fixtures of the rpc tests: one RabbitMQ node per session, Celery workers per module."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from rpc_support import RabbitMQ, Worker

import resultstore


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    # Not under pytest's basetemp: that is private to this user (0700) and the node
    # runs as the rabbitmq user.
    workdir = Path(tempfile.mkdtemp(prefix="rs-rabbitmq-"))
    node = RabbitMQ(workdir)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def broker_url(rabbitmq: RabbitMQ) -> str:
    return rabbitmq.url


@pytest.fixture
def make_rpc_backend(broker_url: str) -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """Standalone rpc backends; those made in one test share one reply queue (one "client")."""
    opened: list[resultstore.ResultBackend] = []
    reply_to = f"rs-test-{uuid.uuid4()}"

    def make(**settings: Any) -> resultstore.ResultBackend:
        settings.setdefault("resultstore_rpc_reply_to", reply_to)
        backend = resultstore.connect("rpc://", broker_url=broker_url, **settings)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


@pytest.fixture(scope="session")
def start_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Worker]]:
    """Start ``celery worker`` processes; all are stopped at the end of the session."""
    started: list[Worker] = []

    def start(config: dict[str, Any], **options: Any) -> Worker:
        workdir: Path = tmp_path_factory.mktemp(f"worker-{config['task_default_queue']}")
        worker = Worker(config, workdir, **options).start()
        started.append(worker)
        return worker

    yield start
    with ThreadPoolExecutor(max(1, len(started))) as pool:
        list(pool.map(lambda worker: worker.stop(), started))
