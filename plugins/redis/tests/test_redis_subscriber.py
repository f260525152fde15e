"""The shared pub/sub subscriber: one connection, confirmed subscriptions, bounded state.

On redis-server and on valkey-server (``plain_server``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_servers import Deployment

import resultstore


class Inbox:
    def __init__(self) -> None:
        self.messages: dict[str, list[bytes]] = {}
        self.cond = threading.Condition()
        self.reconnects = 0

    def on_message(self, key: str, value: bytes) -> None:
        with self.cond:
            self.messages.setdefault(key, []).append(value)
            self.cond.notify_all()

    def on_reconnect(self) -> None:
        with self.cond:
            self.reconnects += 1
            self.cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(predicate, timeout))


@pytest.fixture
def backend(plain_server: Deployment) -> Iterator[resultstore.ResultBackend]:
    backend = plain_server.connect()
    yield backend
    backend.close()


@pytest.fixture
def raw(plain_server: Deployment) -> Iterator[redis.Redis]:
    client = redis.Redis(port=plain_server.servers[0].port)
    yield client
    client.close()


@pytest.fixture
def inbox_and_subscriber(backend: resultstore.ResultBackend) -> Iterator[tuple[Inbox, Any]]:
    inbox = Inbox()
    assert isinstance(backend.store, resultstore.KeyValueStore)
    subscriber = backend.store.subscriber(inbox.on_message, inbox.on_reconnect)
    yield inbox, subscriber
    subscriber.close()


def test_subscribe_is_confirmed_before_it_returns(backend: resultstore.ResultBackend,
                                                  inbox_and_subscriber: tuple[Inbox, Any]) -> None:
    """Store right after subscribe(), no sleep: never lost (200 times)."""
    inbox, subscriber = inbox_and_subscriber
    for i in range(200):
        task_id = f"c-{uuid.uuid4()}"
        key = backend.keys.task(task_id)
        subscriber.subscribe(key)
        backend.mark_as_done(task_id, i)
        assert inbox.wait_for(lambda key=key: key in inbox.messages), f"lost message {i}"
        subscriber.unsubscribe(key)


def test_one_connection_and_no_growth(backend: resultstore.ResultBackend, raw: redis.Redis,
                                      inbox_and_subscriber: tuple[Inbox, Any]) -> None:
    _, subscriber = inbox_and_subscriber
    keys = [backend.keys.task(f"n-{uuid.uuid4()}") for _ in range(300)]
    for key in keys:
        subscriber.subscribe(key)
    subscriber.subscribe(keys[0])  # a second waiter of the same key
    holders = [c for c in raw.client_list(_type="pubsub") if int(c["sub"]) >= len(keys)]
    assert len(holders) == 1  # every key on one connection
    assert set(raw.pubsub_channels(keys[0])) == {keys[0].encode()}
    for key in keys:
        subscriber.unsubscribe(key)
    assert subscriber.keys == {keys[0]}  # still waited on once
    subscriber.unsubscribe(keys[0])
    subscriber.unsubscribe(keys[0])  # extra unsubscribe is harmless
    assert subscriber.keys == frozenset()
    deadline = time.monotonic() + 5
    while raw.pubsub_numsub(*keys[:5]) != [(k.encode(), 0) for k in keys[:5]]:
        assert time.monotonic() < deadline, "server still has our subscriptions"
        time.sleep(0.02)


def test_unsubscribed_keys_are_not_delivered(backend: resultstore.ResultBackend,
                                             inbox_and_subscriber: tuple[Inbox, Any]) -> None:
    inbox, subscriber = inbox_and_subscriber
    gone, kept = f"u-{uuid.uuid4()}", f"u-{uuid.uuid4()}"
    subscriber.subscribe(backend.keys.task(gone))
    subscriber.subscribe(backend.keys.task(kept))
    subscriber.unsubscribe(backend.keys.task(gone))
    backend.mark_as_done(gone, 1)
    backend.mark_as_done(kept, 2)
    assert inbox.wait_for(lambda: backend.keys.task(kept) in inbox.messages)
    assert backend.keys.task(gone) not in inbox.messages


def test_resubscribes_after_the_server_kills_the_connection(
        backend: resultstore.ResultBackend, raw: redis.Redis,
        inbox_and_subscriber: tuple[Inbox, Any]) -> None:
    inbox, subscriber = inbox_and_subscriber
    task_ids = [f"k-{uuid.uuid4()}" for _ in range(50)]
    for task_id in task_ids:
        subscriber.subscribe(backend.keys.task(task_id))
    killed = raw.client_kill_filter(_type="pubsub")
    assert killed >= 1
    assert inbox.wait_for(lambda: inbox.reconnects >= 1), "on_reconnect not called"
    for task_id in task_ids:
        backend.mark_as_done(task_id, task_id)
    assert inbox.wait_for(lambda: len(inbox.messages) == len(task_ids))


def test_redundant_unsubscribe_keeps_delivering(backend: resultstore.ResultBackend,
                                                inbox_and_subscriber: tuple[Inbox, Any]) -> None:
    """An UNSUBSCRIBE on a connection with no subscription left (celery/celery#9092: Valkey
    8.0 answered it with a NOSUB error, later versions with a plain reply) is harmless."""
    inbox, subscriber = inbox_and_subscriber
    gone = backend.keys.task(f"r-{uuid.uuid4()}")
    subscriber.subscribe(gone)
    subscriber.unsubscribe(gone)
    with subscriber._lock:  # what a stale client-side view would send
        subscriber._send("UNSUBSCRIBE", gone)
        subscriber._send("UNSUBSCRIBE")
    task_id = f"r-{uuid.uuid4()}"
    subscriber.subscribe(backend.keys.task(task_id))
    backend.mark_as_done(task_id, "still delivered")
    assert inbox.wait_for(lambda: backend.keys.task(task_id) in inbox.messages)
    assert inbox.reconnects == 0  # the error reply did not cost the connection


def test_nosub_error_reply_is_ignored(backend: resultstore.ResultBackend,
                                      inbox_and_subscriber: tuple[Inbox, Any],
                                      caplog: pytest.LogCaptureFixture) -> None:
    """Valkey 8.0's NOSUB reply itself (9.x no longer sends it): read, ignored, not logged as
    an error, delivery goes on on the same connection."""
    inbox, subscriber = inbox_and_subscriber
    conn = subscriber._conn
    original = conn.read_response
    calls = 0

    def nosub_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise redis.exceptions.ResponseError(
                "NOSUB 'unsubscribe' command executed not in subscribed mode")
        return original(*args, **kwargs)

    conn.read_response = nosub_once
    task_id = f"n-{uuid.uuid4()}"
    with caplog.at_level("DEBUG", logger="resultstore_redis.subscriber"):
        subscriber.subscribe(backend.keys.task(task_id))
        backend.mark_as_done(task_id, "after NOSUB")
        assert inbox.wait_for(lambda: backend.keys.task(task_id) in inbox.messages)
    assert calls >= 2 and subscriber._conn is conn and inbox.reconnects == 0
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]
    assert any("NOSUB" in r.getMessage() for r in caplog.records)


def test_handler_errors_do_not_stop_delivery(backend: resultstore.ResultBackend) -> None:
    seen: list[str] = []

    def on_message(key: str, value: bytes) -> None:
        seen.append(key)
        if len(seen) == 1:
            raise RuntimeError("a waiter's bug")

    assert isinstance(backend.store, resultstore.KeyValueStore)
    subscriber: Any = backend.store.subscriber(on_message, lambda: None)
    try:
        ids = [f"h-{uuid.uuid4()}" for _ in range(2)]
        for task_id in ids:
            subscriber.subscribe(backend.keys.task(task_id))
            backend.mark_as_done(task_id, 1)
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(seen) == 2
    finally:
        subscriber.close()
    assert subscriber.keys == frozenset()


def test_close_stops_the_reader_thread(backend: resultstore.ResultBackend) -> None:
    before = {t.ident for t in threading.enumerate()}
    assert isinstance(backend.store, resultstore.KeyValueStore)
    subscriber: Any = backend.store.subscriber(lambda k, v: None, lambda: None)
    subscriber.subscribe(backend.keys.task("x"))
    subscriber.close()
    time.sleep(0.05)
    assert {t.ident for t in threading.enumerate()} <= before | {None}


def test_push_works_without_hiredis(redis_plain: Deployment) -> None:
    """redis-py 8 refuses RESP2 pub/sub with maintenance notifications unless hiredis is there."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys, threading
        sys.modules["hiredis"] = None  # as on a machine without the optional hiredis
        import resultstore
        from resultstore.waiting import waiter
        backend = resultstore.connect({redis_plain.url!r})
        threading.Timer(0.2, backend.mark_as_done, ("no-hiredis", 7)).start()
        print(waiter(backend).wait("no-hiredis", timeout=5, interval=30)["result"])
        backend.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7"
    assert "pub/sub connect failed" not in out.stderr
