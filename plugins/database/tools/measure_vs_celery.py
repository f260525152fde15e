"""Quick store/get ops/s of resultstore-database, -cache and -dynamodb next to Celery's backends.

Starts its own servers (PostgreSQL 15, memcached, moto) on free loopback ports, runs each
side sequentially in one thread on the same server, prints a table and stops the servers::

    python plugins/database/tools/measure_vs_celery.py [--quick]

(Not a pass/fail test; the project-wide benchmark harness lives in bench/.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from celery import Celery

import resultstore
from resultstore.testing.servers import ServerProcess

PG_BIN = Path(os.environ.get("RESULTSTORE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _root(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def postgres() -> Iterator[str]:
    workdir = Path(tempfile.mkdtemp(prefix="rs-measure-pg-"))
    workdir.chmod(0o755)
    data = workdir / "data"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    subprocess.run(_root([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                          "--no-sync"]), check=True, capture_output=True)
    server = ServerProcess(_root([str(PG_BIN / "postgres"), "-D", str(data), "-p", "{port}", "-k",
                                  str(data), "-c", "listen_addresses=127.0.0.1"]), workdir=workdir)
    with server:
        time.sleep(1.0)  # accepting TCP precedes accepting queries
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
        finally:
            subprocess.run(_root([str(PG_BIN / "pg_ctl"), "-D", str(data), "stop", "-m", "fast"]),
                           capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def memcached() -> Iterator[str]:
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    with ServerProcess(["memcached", "-l", "127.0.0.1", "-p", "{port}", "-U", "0", *user],
                       workdir=Path(tempfile.mkdtemp(prefix="rs-measure-mc-"))) as server:
        yield f"memcached://127.0.0.1:{server.port}/"


@contextmanager
def moto() -> Iterator[str]:
    with ServerProcess([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"],
                       workdir=Path(tempfile.mkdtemp(prefix="rs-measure-moto-"))) as server:
        yield f"dynamodb://test:test@127.0.0.1:{server.port}/measure"


def rate(n: int, op: Callable[[int], Any]) -> float:
    op(-1)  # warm up (connections, table creation)
    start = time.perf_counter()
    for i in range(n):
        op(i)
    return n / (time.perf_counter() - start)


def measure(name: str, ours: resultstore.ResultBackend, celery: Any, n: int,
            rounds: int = 3) -> list[str]:
    """Best of ``rounds`` alternating runs (the machine may be shared; alternation is fair)."""
    sides = {
        "resultstore": (lambda tid, i: ours.mark_as_done(tid, i),
                        lambda tid: ours.get_task_meta(tid, cache=False)),
        "Celery": (lambda tid, i: celery.mark_as_done(tid, i), celery.get_task_meta),
    }
    best = {label: [0.0, 0.0] for label in sides}
    for round_ in range(rounds):
        for label, (store, get) in sides.items():
            prefix = f"{uuid.uuid4().hex[:8]}-{round_}"
            best[label][0] = max(best[label][0], rate(
                n, lambda i, s=store, p=prefix: s(f"{p}-{i}", i)))  # type: ignore[misc]
            best[label][1] = max(best[label][1], rate(
                n, lambda i, g=get, p=prefix: g(f"{p}-{max(i, 0)}")))  # type: ignore[misc]
    return [f"| {name} | {label} | {s:,.0f} | {g:,.0f} |" for label, (s, g) in best.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    rows = ["| backend | implementation | store ops/s | get ops/s |", "|---|---|---|---|"]
    with ExitStack() as stack:
        from celery.backends.cache import CacheBackend
        from celery.backends.database import DatabaseBackend
        from celery.backends.dynamodb import DynamoDBBackend

        app = Celery("measure", set_as_current=False)
        pg = stack.enter_context(postgres())
        rows += measure("PostgreSQL 15", resultstore.connect(f"db+{pg}"),
                        DatabaseBackend(app=app, url=pg), int(1000 * scale))
        sqlite = f"sqlite:///{tempfile.mkdtemp(prefix='rs-measure-sqlite-')}/r.db"
        rows += measure("SQLite (file)", resultstore.connect(f"db+{sqlite}"),
                        DatabaseBackend(app=app, url=sqlite), int(500 * scale))
        mc = stack.enter_context(memcached())
        rows += measure("memcached 1.6", resultstore.connect(f"cache+{mc}"),
                        CacheBackend(app=app, url=mc), int(3000 * scale))
        ddb = stack.enter_context(moto())
        rows += measure("DynamoDB (moto)", resultstore.connect(ddb),
                        DynamoDBBackend(app=app, url=ddb), int(200 * scale))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
