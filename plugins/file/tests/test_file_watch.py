"""Push wake-ups: inotify and the polling fallback, with measured latency."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import pytest

import resultstore
from resultstore.config import Settings
from resultstore.waiting import waiter
from resultstore_file import FileStore
from resultstore_file.watch import InotifySubscriber, PollSubscriber

ROUNDS = 40


def _latencies(store: FileStore) -> list[float]:
    arrived: dict[str, float] = {}
    event = threading.Event()

    def on_message(key: str, value: bytes) -> None:
        arrived[key] = time.perf_counter()
        event.set()

    subscriber = store.subscriber(on_message, lambda: None)
    latencies = []
    try:
        for i in range(ROUNDS):
            key = f"celery-task-meta-lat-{i}"
            subscriber.subscribe(key)
            event.clear()
            started = time.perf_counter()
            store.set(key, b'{"status": "SUCCESS"}', None)
            assert event.wait(5), f"no wake-up for {key}"
            latencies.append(arrived[key] - started)
            subscriber.unsubscribe(key)
    finally:
        subscriber.close()
    return latencies


def _report(kind: str, latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    print(f"\n{kind}: set() start to callback p50 {p50:.2f} ms, p95 {p95:.2f} ms ({len(ordered)} rounds)")
    return p50, p95


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux-only; the poll test covers others")
def test_inotify_latency(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    subscriber = store.subscriber(lambda k, v: None, lambda: None)
    assert isinstance(subscriber, InotifySubscriber)
    subscriber.close()
    p50, _ = _report("inotify", _latencies(store))
    assert p50 < 20


def test_poll_latency(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}?watch=poll&poll_interval=0.02", Settings())
    subscriber = store.subscriber(lambda k, v: None, lambda: None)
    assert isinstance(subscriber, PollSubscriber)
    subscriber.close()
    p50, _ = _report("poll (20 ms interval)", _latencies(store))
    assert p50 < 60


@pytest.mark.parametrize("watch", ["auto", "poll"])
def test_in_place_writes_by_celery_wake_subscribers(result_dir: Path, watch: str) -> None:
    store = FileStore.from_url(f"file://{result_dir}?watch={watch}", Settings())
    got = threading.Event()
    received: list[bytes] = []
    subscriber = store.subscriber(lambda k, v: (received.append(v), got.set()), lambda: None)
    try:
        subscriber.subscribe("celery-task-meta-inplace")
        with open(result_dir / "celery-task-meta-inplace", "wb") as out:  # as FilesystemBackend.set
            out.write(b'{"status": "SUCCESS", "result": 1, "task_id": "inplace"}')
        assert got.wait(5)
        assert received[0].startswith(b'{"status": "SUCCESS"')
    finally:
        subscriber.close()


def test_waiter_is_woken_by_another_backend(result_dir: Path) -> None:
    url = f"file://{result_dir}"
    client, worker = resultstore.connect(url), resultstore.connect(url)
    timer = threading.Timer(0.2, worker.mark_as_done, ("pushed", {"ok": True}))
    started = time.perf_counter()
    timer.start()
    try:
        meta = waiter(client).wait("pushed", timeout=5, interval=10)  # interval: no polling help
    finally:
        timer.join()
        waiter(client).close()
    assert meta["result"] == {"ok": True}
    assert time.perf_counter() - started < 2


def test_unsubscribed_keys_are_not_delivered(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    received: list[str] = []
    subscriber = store.subscriber(lambda k, v: received.append(k), lambda: None)
    try:
        subscriber.subscribe("celery-task-meta-wanted")
        store.set("celery-task-meta-other", b"x", None)
        store.set("celery-task-meta-wanted", b"y", None)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        subscriber.close()
    assert received == ["celery-task-meta-wanted"]
