"""Redis through Celery's own API: ``app.backend`` is ours, Celery's RedisBackend, or the raw floor.

Every figure is what a Celery user calls (``GroupResult.join_native()``/``join()``,
``AsyncResult.get()``, ``app.backend.get_task_meta``/``store_result``).  The raw
column is the physical floor on the same server in the same run: redis-py
``MGET``/``GET``/``SET`` (plus decoding with the same codec where ours decodes),
and a redis-py pub/sub round trip for the wake-up.  Rounds are interleaved
(ours, Celery, raw, ours, ...) and the median is reported, because the
machine is shared: ratios are the figure, absolute numbers are noisy.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from resultstore.testing.servers import ServerProcess

from .harness import Report, Row, percentiles

SUITE = "celery api"


def _apps(port: int) -> tuple[Any, Any]:
    from celery import Celery
    from celery.backends.redis import RedisBackend

    url = f"redis://127.0.0.1:{port}/0"
    ours = Celery("bench-ours", broker="memory://", backend=url, set_as_current=False)
    assert type(ours.backend).__module__.startswith("resultstore_redis"), type(ours.backend)
    theirs = Celery("bench-celery", broker="memory://", backend=RedisBackend, set_as_current=False)
    theirs.conf.update(redis_host="127.0.0.1", redis_port=port, redis_db=0)
    assert type(theirs.backend) is RedisBackend
    return ours, theirs


def interleaved(funcs: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, rounds interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in funcs}
    for _ in range(rounds):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def run(report: Report, quick: bool = False) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-capi-"))
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with ServerProcess(argv, workdir) as server:
        raw = redis.Redis(host="127.0.0.1", port=server.port)
        ours, theirs = _apps(server.port)
        rounds = 15  # medians of interleaved rounds: the figure is the ratio, even with --quick
        _joins(report, ours, theirs, raw, 1000, rounds)
        _single(report, ours, theirs, raw, 500 if quick else 2000, 31)
        _wakeups(report, ours, theirs, raw, 300 if quick else 600)
        ours.backend.backend.close()
    shutil.rmtree(workdir, ignore_errors=True)


def _joins(report: Report, ours: Any, theirs: Any, raw: redis.Redis, size: int, rounds: int) -> None:
    from celery.result import AsyncResult, GroupResult

    ids = [f"capi-{uuid.uuid4()}" for _ in range(size)]
    for task_id in ids:
        ours.backend.store_result(task_id, {"n": 1, "s": "x" * 20}, "SUCCESS")
    keys = [f"celery-task-meta-{t}" for t in ids]
    codec = ours.backend.backend.codec

    def group(app: Any) -> Any:
        return GroupResult("g", [AsyncResult(t, app=app) for t in ids], app=app)

    def floor() -> None:
        [codec.decode(v) for v in raw.mget(keys)]

    def one_by_one() -> None:
        [codec.decode(raw.get(k)) for k in keys]

    notes = {"join_native": f"raw = the floor: one redis-py MGET of the {size} keys + decoding each "
                            f"with the same codec",
             "join": f"Celery's join() calls AsyncResult.get() per member, so its floor is {size} "
                     f"sequential redis-py GETs + decoding (raw); the MGET floor is in the JSON"}
    for method, raw_floor in (("join_native", floor), ("join", one_by_one)):
        medians = interleaved({"ours": lambda m=method: getattr(group(ours), m)(),
                               "celery": lambda m=method: getattr(group(theirs), m)(),
                               "raw": raw_floor, "mget": floor}, rounds)
        report.extras[f"celery_api_{method}_ms"] = {k: v * 1e3 for k, v in medians.items()}
        report.add(Row(SUITE, f"GroupResult.{method}() of {size} ready", "ms", medians["ours"] * 1e3,
                       medians["celery"] * 1e3, medians["raw"] * 1e3, higher_is_better=False,
                       note=f"{notes[method]}; median of {rounds} interleaved rounds"))


def _single(report: Report, ours: Any, theirs: Any, raw: redis.Redis, n: int, rounds: int) -> None:
    from resultstore import states

    payload = ours.backend.encode({"status": "SUCCESS", "result": 1, "traceback": None,
                                   "children": [], "date_done": "2026-01-01T00:00:00+00:00",
                                   "task_id": "x", "name": None, "args": None, "kwargs": None,
                                   "worker": None, "retries": None, "queue": None})
    ids = [f"capi-s{i}" for i in range(n)]
    for t in ids:
        ours.backend.store_result(t, 1, states.SUCCESS)

    def loop(func: Callable[[str], Any]) -> Callable[[], None]:
        return lambda: [func(t) for t in ids]

    medians = interleaved({"ours": loop(lambda t: ours.backend.get_task_meta(t, cache=False)),
                           "celery": loop(lambda t: theirs.backend.get_task_meta(t, cache=False)),
                           "raw": loop(lambda t: raw.get(f"celery-task-meta-{t}"))}, rounds)
    report.add(Row(SUITE, "app.backend.get_task_meta(cache=False)", "ops/s", n / medians["ours"],
                   n / medians["celery"], n / medians["raw"], note="raw = redis-py GET, no decoding"))
    medians = interleaved({"ours": loop(lambda t: ours.backend.store_result(t, 1, states.SUCCESS)),
                           "celery": loop(lambda t: theirs.backend.store_result(t, 1, states.SUCCESS)),
                           "raw": loop(lambda t: raw.set(f"celery-task-meta-{t}", payload))}, rounds)
    report.add(Row(SUITE, "app.backend.store_result", "ops/s", n / medians["ours"],
                   n / medians["celery"], n / medians["raw"],
                   note="raw = redis-py SET of an already encoded meta (Celery and ours also "
                        "publish it, as Celery's RedisBackend does)"))


def _wakeups(report: Report, ours: Any, theirs: Any, raw: redis.Redis, samples: int) -> None:
    from celery.result import AsyncResult

    def one(wait: Callable[[str], Any], store: Callable[[str], Any]) -> float | None:
        task_id = str(uuid.uuid4())
        ready = threading.Event()
        done: list[float] = []

        def blocked() -> None:
            ready.set()
            wait(task_id)
            done.append(time.perf_counter())

        thread = threading.Thread(target=blocked)
        thread.start()
        ready.wait()
        time.sleep(0.003)  # let the waiter subscribe and block
        start = time.perf_counter()
        store(task_id)
        thread.join(10)
        return done[0] - start if done else None

    pubsub = redis.Redis(connection_pool=raw.connection_pool).pubsub()
    pubsub.subscribe("capi-warm")

    def raw_wait(task_id: str) -> None:
        pubsub.subscribe(f"celery-task-meta-{task_id}")
        while True:
            message = pubsub.get_message(timeout=10)
            if message and message["type"] == "message":
                break
        pubsub.unsubscribe(f"celery-task-meta-{task_id}")

    kinds = {
        "ours": (lambda t: AsyncResult(t, app=ours).get(timeout=10),
                 lambda t: ours.backend.store_result(t, 1, "SUCCESS")),
        "celery": (lambda t: AsyncResult(t, app=theirs).get(timeout=10),
                   lambda t: theirs.backend.store_result(t, 1, "SUCCESS")),
        "raw": (raw_wait, lambda t: raw.publish(f"celery-task-meta-{t}", b"x")),
    }
    out: dict[str, list[float]] = {k: [] for k in kinds}
    stalls = {k: 0 for k in kinds}
    for _ in range(samples):
        for name, (wait, store) in kinds.items():
            got = one(wait, store)
            if got is None:
                stalls[name] += 1
            else:
                out[name].append(got)
    pubsub.close()
    stats = {k: percentiles(v) for k, v in out.items()}
    report.extras["celery_api_wakeup_ms"] = {**stats, "stalls": stalls}
    report.add(Row(SUITE, "AsyncResult.get() wake-up p50", "ms", stats["ours"]["p50"],
                   stats["celery"]["p50"], stats["raw"]["p50"], higher_is_better=False,
                   note=f"raw = redis-py publish -> a subscribed listener thread wakes; "
                        f"p99 ours {stats['ours']['p99']:.2f} / celery {stats['celery']['p99']:.2f} / "
                        f"raw {stats['raw']['p99']:.2f} ms; max ours {stats['ours']['max']:.2f} ms; "
                        f"stalls (>10 s) {stalls}; {samples} interleaved samples"))
