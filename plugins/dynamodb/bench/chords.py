"""Large chords on ``dynamodb://`` with a real worker: this plugin vs Celery's DynamoDBBackend.

One moto server (the DynamoDB API) and one redis-server (the broker) serve both
backends; for each backend a fresh table and a real ``celery worker`` (prefork,
``-c 2``) are started, then the same client workload is timed, in the same run:

* ``group(identity.si(i) for i in range(N)) | tsum.s()`` (a chord of N parts);
* the same behind a chain: ``identity.si(-1) | group(...) | tsum.s()``;

for each N in ``--parts`` (default 1000 and 10000; the chain for N in ``--chain-parts``,
default 1000).  A chord that does not complete within ``--timeout`` seconds is reported
as such.  moto runs one request at a time (``resultstore.testing.moto``: conditional writes
atomic per item, as on DynamoDB), for both backends alike.

    python plugins/dynamodb/bench/chords.py [--parts 1000,10000] [--chain-parts 1000]
                                            [--timeout 1200]

Not a test: prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from celery import group
from ddb_app import make_app

from resultstore.testing.moto import moto_argv
from resultstore.testing.servers import ServerProcess
from resultstore.testing.workers import CeleryWorker

HERE = Path(__file__).resolve().parent
CELERYS = "celery.backends.dynamodb:DynamoDBBackend+"


def run(config: dict[str, Any], workloads: list[tuple[str, int]], timeout: float,
        workdir: Path) -> dict[str, float | str]:
    workdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float | str] = {}
    with CeleryWorker("ddb_app", config, workdir, config_env="RS_DDB_CONFIG", app_dir=HERE,
                      pool="prefork", concurrency=2):
        app = make_app(config, name="bench-client")
        identity, tsum = app.tasks["ddb.identity"], app.tasks["ddb.tsum"]
        label = f"{type(app.backend).__module__}.{type(app.backend).__name__}"
        print(f"== {label}", file=sys.stderr, flush=True)
        (group(identity.si(i) for i in range(20)) | tsum.s())().get(timeout=60)  # warm up
        for shape, n in workloads:
            header = group(identity.si(i) for i in range(n))
            canvas = header | tsum.s() if shape == "chord" else identity.si(-1) | header | tsum.s()
            started = time.perf_counter()
            try:
                total = canvas().get(timeout=timeout)
                assert total == sum(range(n)), total
                timings[f"{shape} {n}"] = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                spent = time.perf_counter() - started
                timings[f"{shape} {n}"] = f"{type(exc).__name__} after {spent:.0f} s"
            print(f"   {shape} {n}: {timings[f'{shape} {n}']}", file=sys.stderr, flush=True)
        app.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="1000,10000")
    parser.add_argument("--chain-parts", default="1000")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--only", choices=["celery", "resultstore"])
    args = parser.parse_args()
    parts = [int(n) for n in args.parts.split(",") if n]
    chained = [int(n) for n in args.chain_parts.split(",") if n]
    workloads = sorted([("chord", n) for n in parts] + [("chain", n) for n in chained],
                       key=lambda w: (w[1], w[0] == "chain"))
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(
            moto_argv(),
            workdir=Path(tmp) / "moto") as moto, ServerProcess(
            ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", ""],
            workdir=Path(tmp) / "redis") as redis:
        base = {"broker_url": f"redis://127.0.0.1:{redis.port}/0",
                "task_default_queue": "ddb-bench", "result_chord_join_timeout": args.timeout}

        def url() -> str:
            return f"dynamodb://test:test@127.0.0.1:{moto.port}/bench-{uuid.uuid4().hex[:8]}"

        configs = {"celery": {**base, "result_backend": CELERYS + url()},
                   "resultstore": {**base, "result_backend": url()}}
        results = {name: run(config, workloads, args.timeout, Path(tmp) / name)
                   for name, config in configs.items() if args.only in (None, name)}
    print(f"{'workload':14} " + " ".join(f"{name + ' s':>22}" for name in results))
    for key in next(iter(results.values())):
        cells = [results[name][key] for name in results]
        print(f"{key:14} " + " ".join(f"{c:>22.2f}" if isinstance(c, float) else f"{c:>22}"
                                      for c in cells))
    print(json.dumps({"workloads": workloads, **results}))


if __name__ == "__main__":
    main()
