"""Outages of a real redis-server: stopped mid-run, restarted on the same port.

The server keeps an append-only file, so what it acknowledged survives the
restart (as a production Redis would); the question is what the client does
with the writes that meet the outage.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_servers import start_redis

import resultstore
from resultstore import states
from resultstore.errors import BackendGetMetaError, BackendStoreError
from resultstore.hooks import hookimpl, plugin_manager
from resultstore.testing.servers import ServerProcess

OUTAGE = 0.8  # seconds the server is down


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "no")
    yield server
    server.stop()


def _url(server: ServerProcess) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


def _outage(server: ServerProcess, after: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        server.stop()
        time.sleep(OUTAGE)
        server.start()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _Retries:
    """Counts ``resultstore_retried`` hook calls while registered."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def resultstore_retried(self, operation: str, attempt: int, delay: float,
                            exc: BaseException) -> None:
        self.count += 1


@pytest.fixture
def retries() -> Iterator[_Retries]:
    counter = _Retries()
    manager = plugin_manager()
    manager.register(counter)
    yield counter
    manager.unregister(counter)


def test_nothing_lost_with_always_retry(durable: ServerProcess, retries: _Retries) -> None:
    backend = resultstore.connect(_url(durable), result_backend_always_retry=True,
                                  result_backend_max_sleep_between_retries_ms=200)
    ids = [f"o-{uuid.uuid4()}" for _ in range(400)]
    outage = _outage(durable, after=0.3)
    start = time.monotonic()
    for i, task_id in enumerate(ids):
        backend.mark_as_done(task_id, i)
        time.sleep(0.003)
    elapsed = time.monotonic() - start
    outage.join()
    assert retries.count > 0 and elapsed > OUTAGE  # the writes really met the outage
    metas = backend.get_many(ids)
    assert [metas[t]["result"] for t in ids] == list(range(len(ids)))
    backend.close()


def test_reads_retry_through_outage(durable: ServerProcess) -> None:
    backend = resultstore.connect(_url(durable), result_backend_always_retry=True,
                                  result_backend_max_sleep_between_retries_ms=200)
    backend.mark_as_done("r-1", "kept")
    durable.stop()
    restarter = threading.Timer(OUTAGE, durable.start)
    restarter.start()
    assert backend.get_task_meta("r-1")["result"] == "kept"
    restarter.join()
    backend.close()


def test_clear_errors_without_always_retry(durable: ServerProcess) -> None:
    backend = resultstore.connect(_url(durable))
    backend.mark_as_done("e-1", 1)
    durable.stop()
    try:
        start = time.monotonic()
        with pytest.raises(BackendStoreError) as stored:
            backend.mark_as_done("e-2", 2)
        with pytest.raises(BackendGetMetaError) as fetched:
            backend.get_task_meta("e-1")
        assert time.monotonic() - start < 3  # fails fast, no hidden retry loop
        for error in (stored.value, fetched.value):
            assert "ConnectionError" in str(error)
            assert "result_backend_always_retry" in str(error)
        assert stored.value.task_id == "e-2"
    finally:
        durable.start()
    assert backend.get_task_meta("e-1")["result"] == 1  # the pool recovers by itself
    backend.mark_as_done("e-2", 2)
    backend.close()


def test_subscriber_survives_restart(durable: ServerProcess) -> None:
    backend = resultstore.connect(_url(durable), result_backend_always_retry=True)
    assert isinstance(backend.store, resultstore.KeyValueStore)
    received: dict[str, bytes] = {}
    reconnected = threading.Event()
    got = threading.Event()

    def on_message(key: str, value: bytes) -> None:
        received[key] = value
        got.set()

    subscriber: Any = backend.store.subscriber(on_message, reconnected.set)
    try:
        key = backend.keys.task("w-1")
        subscriber.subscribe(key)
        durable.restart()
        assert reconnected.wait(10), "on_reconnect was not called after the restart"
        assert subscriber.keys == {key}
        backend.mark_as_done("w-1", "after restart")
        assert got.wait(5)
        assert backend.codec.decode_meta(received[key])["result"] == "after restart"
    finally:
        subscriber.close()
        backend.close()


def test_chords_survive_restart(durable: ServerProcess) -> None:
    """Chord state and the Lua scripts (script cache is empty after a restart)."""
    backend = resultstore.connect(_url(durable), result_backend_always_retry=True)
    gid = f"g-{uuid.uuid4()}"
    backend.set_chord_size(gid, 3)
    assert backend.chord_part_return(gid, "a", 0, states.SUCCESS, "a") is None
    durable.restart()
    assert backend.chord_part_return(gid, "b", 1, states.SUCCESS, "b") is None
    parts = backend.chord_part_return(gid, "c", 2, states.SUCCESS, "c")
    assert parts is not None and [p.result for p in parts] == ["a", "b", "c"]
    backend.chord_done(gid)
    backend.close()
