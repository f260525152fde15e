"""Wall time of a 1000-task group and a 1000-task chord: Celery's RedisBackend vs ours.

Run: ``python bench/celery_worker.py [--tasks 1000] [--rounds 3]`` (needs the dev install).
One redis-server (broker db 0, results db 1); for each backend a real prefork
worker (-c 2) is started and the same client workload is timed (median of
``--rounds``).  Not a test: prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "celery_interop"))  # worker harness

from celery import chord, group
from ci_app import make_app
from ci_harness import Worker

from resultstore.testing.servers import ServerProcess


def run(config: dict[str, Any], tasks: int, rounds: int, workdir: Path) -> dict[str, float]:
    with Worker(config, workdir, pool="prefork", concurrency=2):
        app = make_app(config)
        add, tsum = app.tasks["ci.add"], app.tasks["ci.tsum"]
        group(add.s(i, i) for i in range(50))().get(timeout=60)  # warm up
        timings: dict[str, list[float]] = {"group": [], "chord": []}
        for _ in range(rounds):
            started = time.perf_counter()
            assert len(group(add.s(i, i) for i in range(tasks))().get(timeout=300)) == tasks
            timings["group"].append(time.perf_counter() - started)
            started = time.perf_counter()
            total = chord(add.s(i, i) for i in range(tasks))(tsum.s()).get(timeout=300)
            assert total == sum(2 * i for i in range(tasks))
            timings["chord"].append(time.perf_counter() - started)
        print(f"  {type(app.backend).__module__}.{type(app.backend).__name__}", file=sys.stderr)
        return {k: statistics.median(v) for k, v in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(
            ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", ""],
            workdir=Path(tmp)) as server:
        base = {"broker_url": f"redis://127.0.0.1:{server.port}/0", "task_default_queue": "bench",
                "ci_redis_url": f"redis://127.0.0.1:{server.port}/0",
                "worker_hijack_root_logger": False}
        celery_conf = {**base, "result_backend": "celery.backends.redis:RedisBackend",
                       "redis_host": "127.0.0.1", "redis_port": server.port, "redis_db": 1}
        ours_conf = {**base, "result_backend": f"redis://127.0.0.1:{server.port}/1"}
        results = {
            "celery": run(celery_conf, args.tasks, args.rounds, Path(tmp) / "celery"),
            "resultstore": run(ours_conf, args.tasks, args.rounds, Path(tmp) / "ours"),
        }
    print(f"{args.tasks} tasks, median of {args.rounds}")
    print(f"{'workload':10} {'celery s':>10} {'ours s':>10} {'ratio':>7}")
    for workload in ("group", "chord"):
        theirs, ours = results["celery"][workload], results["resultstore"][workload]
        print(f"{workload:10} {theirs:10.2f} {ours:10.2f} {theirs / ours:7.2f}x")
    print(json.dumps({"tasks": args.tasks, "rounds": args.rounds, **results}))


if __name__ == "__main__":
    main()
