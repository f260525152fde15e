"""Redis: resultstore-redis vs Celery's RedisBackend vs raw redis-py, one server, one run."""

from __future__ import annotations

import asyncio
import gc
import shutil
import subprocess
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path
from types import SimpleNamespace

import redis

from resultstore.testing.servers import ServerProcess

from .harness import Report, Row, best_seconds, ops_per_second, percentiles

SUITE = "redis"


def _celery_backend(port: int):
    """An app whose ``app.backend`` is Celery's own RedisBackend on the same server.

    Named by class: with resultstore-redis installed, a ``redis://`` URL loads ours.
    """
    from celery import Celery
    from celery.backends.redis import RedisBackend

    app = Celery("bench", broker="memory://", backend=RedisBackend, set_as_current=False)
    app.conf.update(redis_host="127.0.0.1", redis_port=port, redis_db=0)
    assert type(app.backend) is RedisBackend
    return app, app.backend


def run(report: Report, quick: bool = False) -> None:
    import resultstore
    from resultstore import states
    from resultstore.waiting import waiter

    n = 2000 if quick else 10000
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-redis-"))
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with ServerProcess(argv, workdir) as server:
        url = f"redis://127.0.0.1:{server.port}/0"
        raw = redis.Redis(host="127.0.0.1", port=server.port)
        ours = resultstore.connect(url)
        app, theirs = _celery_backend(server.port)
        payload = ours.encode({"status": "SUCCESS", "result": 1, "traceback": None, "children": [],
                               "date_done": "2026-01-01T00:00:00+00:00", "task_id": "x"})

        # store_result
        report.add(Row(SUITE, "store_result", "ops/s",
                       ops_per_second(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS), n),
                       ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                       ops_per_second(lambda i: raw.set(f"r{i}", payload), n)))

        # get_task_meta, no cache
        ids = [f"o{i}" for i in range(n)]
        report.add(Row(SUITE, "get_task_meta (no cache)", "ops/s",
                       ops_per_second(lambda i: ours.get_task_meta(ids[i % n], cache=False), n),
                       ops_per_second(lambda i: theirs.get_task_meta(f"c{i % n}", cache=False), n),
                       ops_per_second(lambda i: raw.get(f"celery-task-meta-o{i % n}"), n)))

        # join of ready results
        for size in ((1000,) if quick else (1000, 10000)):
            _join(report, size, ours, app, theirs, raw)

        # wake-up latency of a blocked wait after a store
        samples = 200 if quick else 500
        report.add(_latency_row(report, "wake-up latency p50", "p50", samples, ours, app, theirs, raw,
                                waiter))

        # asyncio: many concurrent waiters on one backend
        report.extras["asyncio_waiters"] = _asyncio_waiters(ours, 2000 if quick else 10000)

        # chord parts
        _chords(report, ours, app, theirs, 100 if quick else 500)

        report.extras["waiter_memory"] = _long_running_waits(ours, 10000 if quick else 100000)
        report.extras["redis_benchmark"] = _redis_benchmark(server.port)
        ours.close()
    shutil.rmtree(workdir, ignore_errors=True)


def _join(report, size, ours, app, theirs, raw) -> None:
    from celery.result import AsyncResult as CAsyncResult
    from celery.result import GroupResult as CGroupResult

    import resultstore

    ids = [f"j{size}-{uuid.uuid4()}" for _ in range(size)]
    for task_id in ids:
        ours.store_result(task_id, 1, "SUCCESS")
    keys = [f"celery-task-meta-{t}" for t in ids]
    ours_s = best_seconds(lambda: resultstore.GroupResult(
        "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(), 3)
    theirs_s = best_seconds(lambda: CGroupResult(
        "g", [CAsyncResult(t, app=app, backend=theirs) for t in ids], app=app,
        backend=theirs).join_native(), 3)
    raw_s = best_seconds(lambda: [ours.decode(v) for v in raw.mget(keys)], 3)
    report.add(Row(SUITE, f"join_native of {size} ready results", "joins/s",
                   1 / ours_s, 1 / theirs_s, 1 / raw_s))


def _latency_row(report, name, key, samples, ours, app, theirs, raw, waiter) -> Row:
    def measure(wait, store) -> list[float]:
        out = []
        for _ in range(samples):
            task_id = str(uuid.uuid4())
            ready = threading.Event()
            done: list[float] = []

            def blocked(task_id: str = task_id, ready: threading.Event = ready,
                        done: list[float] = done) -> None:
                ready.set()
                wait(task_id)
                done.append(time.perf_counter())

            thread = threading.Thread(target=blocked)
            thread.start()
            ready.wait()
            time.sleep(0.002)  # let the waiter subscribe and block
            start = time.perf_counter()
            store(task_id)
            thread.join(10)
            if done:
                out.append(done[0] - start)
        return out

    w = waiter(ours)
    ours_samples = measure(lambda t: w.wait(t, timeout=10), lambda t: ours.store_result(t, 1, "SUCCESS"))

    from celery.result import AsyncResult as CAsyncResult

    celery_samples = measure(lambda t: CAsyncResult(t, app=app, backend=theirs).get(timeout=10),
                             lambda t: theirs.store_result(t, 1, "SUCCESS"))

    pubsub_client = redis.Redis(connection_pool=raw.connection_pool)

    def raw_wait(task_id: str) -> None:
        pubsub = pubsub_client.pubsub()
        pubsub.subscribe(f"celery-task-meta-{task_id}")
        while True:
            message = pubsub.get_message(timeout=10)
            if message and message["type"] == "message":
                break
        pubsub.close()

    raw_samples = measure(raw_wait, lambda t: raw.publish(f"celery-task-meta-{t}", b"x"))
    stats = {label: percentiles(s) for label, s in
             (("ours", ours_samples), ("celery", celery_samples), ("raw", raw_samples))}
    report.extras["wakeup_latency_ms"] = stats
    return Row(SUITE, name + " (ms)", "ms", stats["ours"][key], stats["celery"][key], stats["raw"][key],
               higher_is_better=False,
               note=f"p99 ours {stats['ours']['p99']:.2f} / celery {stats['celery']['p99']:.2f} ms; "
                    f"max ours {stats['ours']['max']:.2f} / celery {stats['celery']['max']:.2f} ms")


def _asyncio_waiters(ours, count: int) -> dict[str, float]:
    from resultstore.waiting import waiter

    w = waiter(ours)
    ids = [str(uuid.uuid4()) for _ in range(count)]

    async def main() -> float:
        tasks = [asyncio.ensure_future(w.await_one(t, timeout=60)) for t in ids]
        await asyncio.sleep(0.5)
        start = time.perf_counter()
        await asyncio.to_thread(lambda: [ours.store_result(t, 1, "SUCCESS") for t in ids])
        await asyncio.gather(*tasks)
        return time.perf_counter() - start

    gc.collect()
    tracemalloc.start()
    elapsed = asyncio.run(main())
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"waiters": count, "seconds_after_first_store": elapsed,
            "peak_mib": peak / 2**20, "retained_mib": current / 2**20}


def _chords(report, ours, app, theirs, chords: int) -> None:
    size = 10

    def ours_run(offset: int) -> None:
        for c in range(chords):
            gid = f"og{offset}-{c}"
            ours.set_chord_size(gid, size)
            for i in range(size):
                parts = ours.chord_part_return(gid, f"{gid}-{i}", i, "SUCCESS", i)
            assert parts is not None
            ours.chord_done(gid)

    body = app.signature("bench.body")
    body.freeze()

    def theirs_run(offset: int) -> None:
        for c in range(chords):
            gid = f"cg{offset}-{c}"
            theirs.set_chord_size(gid, size)
            for i in range(size):
                request = SimpleNamespace(id=f"{gid}-{i}", group=gid, group_index=i,
                                          chord=dict(body, chord_size=size), task="bench.part")
                theirs.on_chord_part_return(request, "SUCCESS", i)

    total = chords * size
    ours_s = best_seconds(lambda: ours_run(time.perf_counter_ns()), 1)
    theirs_s = best_seconds(lambda: theirs_run(time.perf_counter_ns()), 1)
    report.add(Row(SUITE, f"chord parts ({chords} chords x {size})", "parts/s", total / ours_s,
                   total / theirs_s, note="Celery publishes each body to an in-memory broker"))


def _long_running_waits(ours, waits: int) -> dict[str, float]:
    from resultstore.waiting import waiter

    w = waiter(ours)
    gc.collect()
    tracemalloc.start()
    start_mem = tracemalloc.get_traced_memory()[0]
    checkpoints = []
    for i in range(waits):
        task_id = f"lw-{i}"
        ours.store_result(task_id, i, "SUCCESS")
        w.wait(task_id, timeout=5)
        if i % (waits // 5) == 0:
            gc.collect()
            checkpoints.append((tracemalloc.get_traced_memory()[0] - start_mem) / 2**20)
    tracemalloc.stop()
    return {"waits": waits, "growth_mib_checkpoints": checkpoints}


def _redis_benchmark(port: int) -> str:
    if shutil.which("redis-benchmark") is None:
        return "redis-benchmark not installed"
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "50000", "-q",
                          "-c", "1"], capture_output=True, text=True, timeout=120)
    return out.stdout.strip().replace("\r", "\n").splitlines()[-2:].__str__()
