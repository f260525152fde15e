"""Chord shapes over rpc with a real prefork worker: which complete, and how fast.

Starts a throw-away RabbitMQ and one ``celery worker`` (prefork, 2 children)
whose results use the backend named by ``--backend`` (default: whatever
``rpc://`` resolves to, i.e. this plugin when installed), runs each chord
shape of issue 21 once with ``get(timeout=--timeout)`` and prints a table of
shape x outcome, then the wall time of a 100-part chord.

    python plugins/rpc/bench/chord_shapes.py [--timeout 30] [--backend rpc://]

(needs root, like the tests: the Debian RabbitMQ runs as the rabbitmq user).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from celery import chord
from rpc_shapes import shapes
from rpc_support import RabbitMQ, Worker, worker_config
from rpc_tasks import OURS, make_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--backend", default=OURS)
    parser.add_argument("--parts", type=int, default=100)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=1, help="worker_prefetch_multiplier")
    parser.add_argument("--retry-interval", type=float, default=0.1,
                        help="result_chord_retry_interval (Celery's default: 1)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rs-rpc-shapes-"))
    rabbit_dir = Path(tempfile.mkdtemp(prefix="rs-rabbitmq-"))  # its own: the node runs as rabbitmq
    node = RabbitMQ(rabbit_dir)
    try:
        node.start()
        config = worker_config(node.url, "rpc-shapes", args.backend,
                               result_chord_retry_interval=args.retry_interval,
                               worker_prefetch_multiplier=args.prefetch)
        with Worker(config, workdir / "worker", pool=args.pool, concurrency=args.concurrency):
            app = make_app(config, name="shapes-client")
            print(f"backend: {type(app.backend).__module__}.{type(app.backend).__name__}")
            rows = []
            for name, (run, expected) in shapes(app, workdir, args.timeout).items():
                started = time.perf_counter()
                try:
                    value = run()
                    outcome = "ok" if value == expected else f"wrong: {value!r}"
                except Exception as exc:  # noqa: BLE001
                    outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
                rows.append((name, outcome, time.perf_counter() - started))
                print(f"| {name} | {outcome} | {rows[-1][2]:.1f} s |", flush=True)
            add, tsum = app.signature("rpc.add"), app.signature("rpc.tsum")
            started = time.perf_counter()
            try:
                total = chord(add.clone((i, i)) for i in range(args.parts))(tsum).get(timeout=120)
                assert total == sum(2 * i for i in range(args.parts))
                print(f"{args.parts}-part chord: {time.perf_counter() - started:.2f} s")
            except Exception as exc:  # noqa: BLE001
                print(f"{args.parts}-part chord: {type(exc).__name__}: {exc}")
            app.backend.close()
            app.close()
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(rabbit_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
