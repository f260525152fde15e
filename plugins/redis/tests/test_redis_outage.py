"""Outages of a real redis-server.

The outage kit (``OutageSuite``: drops, stalls, resets and slows the path through a
``FaultProxy``) covers stores, reads and waits.  Here the server process itself is
restarted on its port: it keeps an append-only file, so what it acknowledged survives
(as a production Redis would), and the subscriber and the chord scripts (the script
cache is empty after a restart) must carry on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_servers import SERVER_KINDS, start_redis

import resultstore
from resultstore import states
from resultstore.testing import OutageSuite, Proxied, opened_backends
from resultstore.testing.servers import ServerProcess

#: What bounds one call against a stalled server (redis-py's default read timeout is 120 s).
TIMEOUTS = {"redis_socket_timeout": 1.0, "redis_socket_connect_timeout": 1.0}


class TestRedisOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, redis_plain: Any) -> Iterator[Proxied]:
        port = redis_plain.servers[0].port
        with opened_backends(**TIMEOUTS) as open_backend:
            yield Proxied(("127.0.0.1", port),
                          lambda proxy_port, **settings: open_backend(
                              f"redis://127.0.0.1:{proxy_port}/0", **settings))


@pytest.fixture(params=SERVER_KINDS)
def durable(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    server = start_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "no", kind=request.param)
    yield server
    server.stop()


def _url(server: ServerProcess) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


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
