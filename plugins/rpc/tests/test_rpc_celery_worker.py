"""End to end with real ``celery worker`` processes on RabbitMQ: rpc can only be judged so.

Two workers run for the whole module: one with this plugin's backend
(``rpc://`` resolves to it through the entry point; prefork, so the backend
crosses a fork as in production) and one with Celery's own
``celery.backends.rpc:RPCBackend``.  Clients with either backend talk to
either worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, chord, group
from celery.backends.rpc import RPCBackend as CeleryRPCBackend
from celery.exceptions import ChordError
from rpc_shapes import shapes
from rpc_support import RabbitMQ, Worker, worker_config
from rpc_tasks import CELERYS, OURS, RpcBoom, make_app

import resultstore
from resultstore_rpc.host import RPCBackend

OUR_QUEUE, CELERY_QUEUE = "rpc-ours", "rpc-celery"


@pytest.fixture(scope="module")
def workers(broker_url: str, start_worker: Callable[..., Worker]) -> dict[str, Worker]:
    specs = {
        OUR_QUEUE: (worker_config(broker_url, OUR_QUEUE, OURS), {"pool": "prefork",
                                                                 "concurrency": 2}),
        # prefork for both: a solo/threads worker on amqp needs ~10 s to shut down.
        CELERY_QUEUE: (worker_config(broker_url, CELERY_QUEUE, CELERYS), {"pool": "prefork"}),
    }
    with ThreadPoolExecutor(2) as pool:  # both start at once: the suite stays fast
        futures = {q: pool.submit(start_worker, config, **options)
                   for q, (config, options) in specs.items()}
        return {q: future.result() for q, future in futures.items()}


@pytest.fixture
def client(broker_url: str, workers: dict[str, Worker]) -> Iterator[Callable[..., Celery]]:
    """``client(backend, queue)``: a Celery app sending to ``queue`` and reading with ``backend``."""
    apps: list[Celery] = []

    def make(backend: str, queue: str, **config: Any) -> Celery:
        app = make_app(worker_config(broker_url, queue, backend, **config),
                       name=f"client-{len(apps)}")
        apps.append(app)
        return app

    yield make
    for app in apps:
        if isinstance(app.backend, RPCBackend):
            app.backend.close()
        app.close()


def states_of(app: Celery, signature: Any, timeout: float = 15) -> tuple[Any, list[str]]:
    """Send with a short countdown so the wait is listening before the first state."""
    seen: list[str] = []
    result = signature.apply_async(countdown=0.3)
    value = result.get(timeout=timeout, on_message=lambda meta: seen.append(meta["status"]))
    # resultstore's waiter also reports what its first read found (PENDING here), as
    # Celery's Redis client does; the state messages themselves follow, each once.
    return value, [state for state in seen if state != "PENDING"]


# -- our client, our worker ------------------------------------------------------------------
def test_backend_class_is_ours(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    assert type(app.backend) is RPCBackend
    assert app.backend.as_uri() == "rpc://"
    assert app.backend.oid == app.thread_oid


def test_simple_result(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    assert app.signature("rpc.add", (2, 3)).apply_async().get(timeout=10) == 5
    results = [app.signature("rpc.add", (i, i)).apply_async() for i in range(20)]
    assert [r.get(timeout=10) for r in reversed(results)] == [2 * i for i in reversed(range(20))]


def test_failure_with_custom_exception(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    result = app.signature("rpc.boom", ("no luck", 7)).apply_async()
    with pytest.raises(RpcBoom) as raised:
        result.get(timeout=10)
    assert raised.value.args == ("no luck", 7)
    assert result.state == "FAILURE" and "RpcBoom" in result.traceback


def test_started_state_with_track_started(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    result = app.signature("rpc.nap", (1.0, "rested")).apply_async()
    deadline = time.monotonic() + 5
    while result.state != "STARTED":
        assert time.monotonic() < deadline, result.state
        time.sleep(0.05)
    assert set(result.info) == {"pid", "hostname"}
    assert result.get(timeout=10) == "rested" and result.state == "SUCCESS"


def test_states_arrive_in_order(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    value, seen = states_of(app, app.signature("rpc.flaky", (1,)))
    assert value == 1
    assert seen == ["STARTED", "RETRY", "STARTED", "SUCCESS"]


def test_group_join(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    result = group(app.signature("rpc.add", (i, i)) for i in range(25)).apply_async()
    assert result.get(timeout=15) == [2 * i for i in range(25)]
    assert result.join_native(timeout=5) == [2 * i for i in range(25)]


def test_chord_via_chord_unlock(client: Callable[..., Celery], rabbitmq: RabbitMQ) -> None:
    app = client(OURS, OUR_QUEUE)
    header = [app.signature("rpc.add", (i, i)) for i in range(6)]
    result = chord(header)(app.signature("rpc.tsum"))
    assert result.get(timeout=20) == 30
    assert result.parent.get(timeout=5) == [0, 2, 4, 6, 8, 10]  # the client got the header too
    parts = f"resultstore.rpc.chord.{result.parent.id}"
    deadline = time.monotonic() + 5
    while parts in rabbitmq.queues():  # deleted by the unlock once joined
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_chord_with_failed_header_fails_body(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    header = [app.signature("rpc.add", (1, 1)), app.signature("rpc.boom", ("header", 1))]
    result = chord(header)(app.signature("rpc.tsum"))
    error = result.get(timeout=20, follow_parents=False, propagate=False)
    assert isinstance(error, ChordError)
    assert str(error) == f"Dependency {result.parent.results[1].id} raised RpcBoom('header', 1)"
    assert result.state == "FAILURE"
    with pytest.raises(RpcBoom):  # following the parents, the header's own error surfaces
        result.get(timeout=5)


SHAPES = list(shapes(Celery(set_as_current=False), Path(".")))


@pytest.mark.parametrize("shape", SHAPES)
def test_chord_and_replace_shapes(client: Callable[..., Celery], tmp_path: Path,
                                  shape: str) -> None:
    """Issue 21's chord shapes (and Task.replace, which Celery's RPCBackend loses) complete."""
    app = client(OURS, OUR_QUEUE)
    run, expected = shapes(app, tmp_path, timeout=20)[shape]
    assert run() == expected


def test_thread_safe_client_reads_every_thread(client: Callable[..., Celery]) -> None:
    """One shared backend, tasks sent from several threads (each has its own reply_to).

    Celery's RPCBackend reads only its own thread's queue: the other results time out.
    """
    app = client(OURS, OUR_QUEUE, result_backend_thread_safe=True)
    shared = app.backend  # Celery creates the shared instance without a lock: first, here
    sent: list[Any] = []

    def send(i: int) -> None:
        sent.append(app.signature("rpc.add", (i, 100)).apply_async())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {id(r.backend) for r in sent} == {id(shared)}  # one backend instance ...
    assert sorted(r.get(timeout=10) for r in sent) == [100, 101, 102]  # ... all three queues


def test_asyncio_wait(client: Callable[..., Celery]) -> None:
    app = client(OURS, OUR_QUEUE)
    task_id = app.signature("rpc.nap", (0.2, [1, 2])).apply_async().id

    async def wait() -> Any:
        return await resultstore.AsyncResult(task_id, app.backend.backend).aget(timeout=10)

    assert asyncio.run(wait()) == [1, 2]


# -- mixed fleets -----------------------------------------------------------------------------
def test_celery_client_reads_our_worker(client: Callable[..., Celery]) -> None:
    app = client(CELERYS, OUR_QUEUE)
    assert type(app.backend) is CeleryRPCBackend
    assert app.signature("rpc.add", (20, 22)).apply_async().get(timeout=10) == 42
    with pytest.raises(RpcBoom) as raised:
        app.signature("rpc.boom", ("celery reads", 3)).apply_async().get(timeout=10)
    assert raised.value.args == ("celery reads", 3)
    value, seen = states_of(app, app.signature("rpc.flaky", (1,)))
    assert value == 1 and seen == ["STARTED", "RETRY", "STARTED", "SUCCESS"]
    result = group(app.signature("rpc.add", (i, 1)) for i in range(10)).apply_async()
    assert result.get(timeout=15) == [i + 1 for i in range(10)]


def test_our_client_reads_celery_worker(client: Callable[..., Celery]) -> None:
    app = client(OURS, CELERY_QUEUE)
    assert type(app.backend) is RPCBackend
    assert app.signature("rpc.add", (1, 2)).apply_async().get(timeout=10) == 3
    result = app.signature("rpc.boom", ("we read", 5)).apply_async()
    with pytest.raises(RpcBoom) as raised:
        result.get(timeout=10)
    assert raised.value.args == ("we read", 5) and "RpcBoom" in result.traceback
    value, seen = states_of(app, app.signature("rpc.flaky", (1,)))
    assert value == 1 and seen == ["STARTED", "RETRY", "STARTED", "SUCCESS"]
    started = app.signature("rpc.nap", (0.8, None)).apply_async()
    deadline = time.monotonic() + 5
    while started.state != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started.get(timeout=10)
    result = group(app.signature("rpc.add", (i, 2)) for i in range(10)).apply_async()
    assert result.get(timeout=15) == [i + 2 for i in range(10)]


def test_our_worker_logged_no_backend_errors(workers: dict[str, Worker]) -> None:
    log = workers[OUR_QUEUE].log
    assert "resultstore_rpc" not in log and "rpc: " not in log, log[-3000:]
