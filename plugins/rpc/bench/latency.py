"""Round-trip latency of a trivial task over rpc: this plugin vs Celery's own RPCBackend.

Starts a throw-away RabbitMQ and two ``celery worker`` processes (prefork,
one child each): one whose results use this plugin's backend, one Celery's.
A client with the matching backend then measures ``add.delay(1, 1).get()``
one at a time, and a 200-task group sent at once and joined, in blocks that
alternate between the two so that machine noise hits both alike.

    python plugins/rpc/bench/latency.py [--rounds 500]

(needs root, like the tests: the Debian RabbitMQ runs as the rabbitmq user).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from celery import group
from rpc_support import RabbitMQ, Worker
from rpc_tasks import CELERYS, OURS, make_app


class Client:
    """A Celery app with one backend, warmed up (connections, consumer thread, worker)."""

    def __init__(self, broker_url: str, backend: str, queue: str) -> None:
        self.app = make_app({"broker_url": broker_url, "result_backend": backend,
                             "task_default_queue": queue}, name=f"bench-{queue}")
        self.add = self.app.signature("rpc.add")
        for _ in range(50):
            self.round_trip()

    def round_trip(self) -> float:
        start = time.perf_counter()
        self.add.clone((1, 1)).apply_async().get(timeout=10)
        return (time.perf_counter() - start) * 1000

    def group(self, size: int = 200) -> float:
        start = time.perf_counter()
        group(self.add.clone((i, 1)) for i in range(size)).apply_async().get(timeout=60)
        return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        close = getattr(self.app.backend, "close", None)
        if close is not None:
            close()
        self.app.close()


def summarize(samples: list[float], groups: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50": statistics.median(samples), "p95": samples[int(len(samples) * 0.95) - 1],
            "mean": statistics.fmean(samples), "group200": statistics.median(groups)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rs-rpc-bench-"))
    rabbit_dir = Path(tempfile.mkdtemp(prefix="rs-rabbitmq-"))  # handed to the rabbitmq user
    rabbit = RabbitMQ(rabbit_dir)
    workers: list[Worker] = []
    try:
        rabbit.start()
        clients = {}
        for label, backend in (("resultstore-rpc", OURS), ("celery RPCBackend", CELERYS)):
            queue = f"bench-{len(workers)}"
            workers.append(Worker({"broker_url": rabbit.url, "result_backend": backend,
                                   "task_default_queue": queue}, workdir / queue,
                                  pool="prefork", concurrency=1).start())
            clients[label] = Client(rabbit.url, backend, queue)
        samples: dict[str, list[float]] = {label: [] for label in clients}
        groups: dict[str, list[float]] = {label: [] for label in clients}
        for _ in range(args.blocks):  # interleaved blocks: machine noise hits both alike
            for label, client in clients.items():
                samples[label] += [client.round_trip() for _ in range(args.rounds // args.blocks)]
                groups[label].append(client.group())
        results = {label: summarize(samples[label], groups[label]) for label in clients}
        for client in clients.values():
            client.close()
        print(f"round trip of rpc.add(1, 1): {args.rounds} sequential calls; 200-task group "
              f"sent and joined (median of {args.blocks}); blocks interleaved")
        print(f"{'backend (client + worker)':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'group ms':>9}")
        for label, r in results.items():
            print(f"{label:28} {r['p50']:8.2f} {r['p95']:8.2f} {r['mean']:8.2f} {r['group200']:9.1f}")
    finally:
        for worker in workers:
            worker.stop()
        rabbit.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(rabbit_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
