"""``resultstore migrate`` at 100,000 results: file:// -> redis:// -> PostgreSQL, and a
redis -> PostgreSQL run killed midway then resumed (``python -m bench.migrate_100k [-n N]``).

Needs resultstore-file, -redis, -database (psycopg), redis-server and PostgreSQL 15 binaries
(RESULTSTORE_PG_BIN, default /usr/lib/postgresql/15/bin).  Not run in CI; prints a Markdown
table of the figures (the command's own --json report: results/s of the copy, verify time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import resultstore
from resultstore.testing.servers import ServerProcess

PG_BIN = Path(os.environ.get("RESULTSTORE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_postgres(workdir: Path) -> ServerProcess:
    data = workdir / "pg"
    data.mkdir()
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    data.chmod(0o700)
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                                 "postgres", "--no-sync"]), check=True, capture_output=True)
    return ServerProcess(_as_postgres(
        [str(PG_BIN / "postgres"), "-D", str(data), "-p", "{port}", "-k", str(data),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "TimeZone=UTC"]),
        workdir=workdir, ready=_pg_ready)


def _pg_ready(server: ServerProcess) -> bool:
    import psycopg

    try:
        psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres",
                        connect_timeout=1).close()
        return True
    except psycopg.OperationalError:
        return False


def fill_files(url: str, n: int) -> None:
    backend = resultstore.connect(url)
    for i in range(n):
        meta = {"status": "SUCCESS", "result": {"i": i, "pad": "x" * 64}, "traceback": None,
                "children": [], "date_done": "2026-12-01T00:00:00+00:00", "task_id": f"t{i}"}
        backend.store.set(backend.keys.task(f"t{i}"), backend.encode(meta), 86400 + i % 3600)
    backend.close()


def migrate(src: str, dst: str, *extra: str) -> tuple[dict[str, Any], float]:
    command = [sys.executable, "-m", "resultstore.cli", "migrate", src, dst, "--json", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"migrate failed ({done.returncode}): {done.stdout}{done.stderr}")
    return json.loads(done.stdout), wall


def killed_then_resumed(src: str, dst: str, pg_count: Any, total: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "resultstore.cli", "migrate", src, dst, "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while pg_count() < total * 0.3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = pg_count()
    report, wall = migrate(src, dst)
    return {"rows_at_kill": at_kill, "resume": report, "wall": wall}


def row(name: str, report: dict[str, Any], wall: float) -> str:
    copy, verify = report["copy"], report.get("verify", {})
    return (f"| {name} | {report['listed']:,} | {copy['copied']:,} | {copy['same']:,} | "
            f"{copy['seconds']:.1f} | {copy['results_per_second']:,.0f} | "
            f"{verify.get('seconds', 0):.1f} | {'identical' if verify.get('identical') else 'NO'} | "
            f"{wall:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.migrate_100k")
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()
    import sqlalchemy as sa

    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-migrate-"))
    file_url = f"file://{workdir / 'files'}?fsync=0"
    redis_argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no"]
    started = time.perf_counter()
    fill_files(file_url, args.n)
    print(f"filled {args.n:,} files in {time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with ServerProcess(redis_argv, workdir) as redis_server, start_postgres(workdir) as pg:
        redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
        pg_sa = f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
        report, wall = migrate(file_url, redis_url)
        rows.append(row("file:// -> redis://", report, wall))
        print(rows[-1], flush=True)
        report, wall = migrate(redis_url, f"db+{pg_sa}")
        rows.append(row("redis:// -> PostgreSQL", report, wall))
        print(rows[-1], flush=True)
        engine = sa.create_engine(pg_sa)
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE celery_taskmeta, celery_tasksetmeta"))

        def pg_count() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM celery_taskmeta")).scalar_one())

        resumed = killed_then_resumed(redis_url, f"db+{pg_sa}", pg_count, args.n)
        rows.append(row(f"redis:// -> PostgreSQL, resumed after SIGKILL at "
                        f"{resumed['rows_at_kill']:,} rows", resumed["resume"], resumed["wall"]))
        print(rows[-1], flush=True)
        engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    print("\n| run | listed | copied | already there | copy s | results/s | verify s | verify "
          "| wall s |\n|---|---:|---:|---:|---:|---:|---:|---|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
