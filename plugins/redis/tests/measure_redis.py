"""Quick figures for resultstore-redis vs raw redis-py vs Celery's RedisBackend.

Not a test (no ``test_`` prefix); run ``python plugins/redis/tests/measure_redis.py``.
One redis-server, one process, same payloads.  ``bench/`` has the full suite.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).parent))

from redis_servers import start_redis


def rates(contenders: dict[str, Callable[[int], object]], n: int,
          rounds: int = 7) -> dict[str, float]:
    """Best operations/s of each ``func(i)`` over ``rounds`` interleaved rounds of ``n`` calls.

    Interleaving keeps a busy machine's noise from favouring whoever ran first.
    """
    best = dict.fromkeys(contenders, float("inf"))
    for r in range(rounds):
        for name, func in contenders.items():
            start = time.perf_counter()
            for i in range(n):
                func(r * n + i)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n / seconds for name, seconds in best.items()}


def best_seconds(func: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def wake_latencies(wait: Callable[[str], object], store: Callable[[str], object],
                   samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        task_id = str(uuid.uuid4())
        done: list[float] = []
        blocked = threading.Event()

        def waiter(task_id: str = task_id, done: list[float] = done,
                   blocked: threading.Event = blocked) -> None:
            blocked.set()
            wait(task_id)
            done.append(time.perf_counter())

        thread = threading.Thread(target=waiter)
        thread.start()
        blocked.wait()
        time.sleep(0.003)  # let it subscribe and block
        start = time.perf_counter()
        store(task_id)
        thread.join(10)
        out.append((done[0] - start) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int = 2000) -> None:
    from celery import Celery
    from celery.backends.redis import RedisBackend
    from celery.result import AsyncResult as CeleryAsyncResult
    from celery.result import GroupResult as CeleryGroupResult

    import resultstore
    from resultstore.waiting import waiter

    workdir = Path(tempfile.mkdtemp(prefix="rs-redis-measure-"))
    server = start_redis(workdir)
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        raw = redis.Redis(port=server.port)
        ours = resultstore.connect(url)
        # Celery's own class (with result_backend = "redis://..." Celery would load ours,
        # installed under the same entry-point name).
        app = Celery("measure", broker="memory://", set_as_current=False)
        app.conf.update(result_backend="celery.backends.redis:RedisBackend",
                        redis_host="127.0.0.1", redis_port=server.port)
        theirs = app.backend
        assert type(theirs) is RedisBackend
        payload = ours.encode({"status": "SUCCESS", "result": 1, "traceback": None, "children": [],
                               "date_done": "2026-01-01T00:00:00+00:00", "task_id": "x"})
        rows = []
        got = rates({"ours": lambda i: ours.store_result(f"o{i}", i, "SUCCESS"),
                     "celery": lambda i: theirs.store_result(f"c{i}", i, "SUCCESS"),
                     "raw": lambda i: raw.set(f"r{i}", payload, ex=86400)}, n)
        rows.append(("store_result ops/s (raw: SET EX)", got["ours"], got["celery"], got["raw"]))
        got = rates({"ours": lambda i: ours.get_task_meta(f"o{i % n}", cache=False),
                     "celery": lambda i: theirs.get_task_meta(f"c{i % n}", cache=False),
                     "raw": lambda i: raw.get(f"celery-task-meta-o{i % n}")}, n)
        rows.append(("get_task_meta no cache ops/s (raw: GET)", got["ours"], got["celery"],
                     got["raw"]))

        ids = [f"j-{uuid.uuid4()}" for _ in range(1000)]
        for task_id in ids:
            ours.store_result(task_id, 1, "SUCCESS")
        w = waiter(ours)
        o_join = best_seconds(lambda: list(w.iter_ready(ids, timeout=10)))
        o_many = best_seconds(lambda: ours.get_many(ids, cache=False))
        c_join = best_seconds(lambda: CeleryGroupResult(
            "g", [CeleryAsyncResult(t, app=app, backend=theirs) for t in ids], app=app,
            backend=theirs).join_native(timeout=10), rounds=3)
        rows.append(("join of 1000 ready results (joins/s)", 1 / o_join, 1 / c_join,
                     1 / best_seconds(lambda: raw.mget([f"celery-task-meta-{t}" for t in ids]))))

        samples = 300
        ours_lat = wake_latencies(lambda t: w.wait(t, timeout=10),
                                  lambda t: ours.store_result(t, 1, "SUCCESS"), samples)
        celery_lat = wake_latencies(
            lambda t: CeleryAsyncResult(t, app=app, backend=theirs).get(timeout=10),
            lambda t: theirs.store_result(t, 1, "SUCCESS"), samples)

        print(f"redis-server {raw.info()['redis_version']}, redis-py {redis.__version__}, "
              f"hiredis {redis.utils.HIREDIS_AVAILABLE}, n={n}, load {os.getloadavg()[0]:.1f}")
        print(f"{'measure':42} {'ours':>10} {'celery':>10} {'raw':>10} {'ours/raw':>9} "
              f"{'ours/celery':>11}")
        for name, o, c, r in rows:
            print(f"{name:42} {o:10.0f} {c:10.0f} {r:10.0f} {o / r:9.2f} {o / c:11.2f}")
        print(f"get_many(1000) alone: {o_many * 1000:.2f} ms")
        for label, lat in (("ours", ours_lat), ("celery", celery_lat)):
            print(f"wake-up latency {label:6}: p50 {statistics.median(lat):.3f} ms, "
                  f"p99 {pct(lat, 0.99):.3f} ms, max {max(lat):.3f} ms, first {lat[0]:.3f} ms")
        ours.close()
        raw.close()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
