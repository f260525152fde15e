"""resultstore end to end: a real Celery worker on the embedded ``file://`` backend.

Run it with ``python3 -m nox -s demo`` (installs what it needs), or directly with
``python docs/examples/demo.py`` where ``resultstore``, ``resultstore-file`` and
``celery`` are installed.  No server is needed:

* broker: kombu's ``filesystem://`` transport (message files in a temp directory);
* result backend: ``file:///tmp/resultstore-demo-.../results``, which Celery loads
  from resultstore-file's ``celery.result_backends`` entry point (asserted below);
* a real ``celery worker`` subprocess (prefork pool, 2 processes) runs tasks, a failing
  task, a group and a chord whose body sums the header's results;
* the client waits with resultstore's own result objects, sync and asyncio, shows
  progress, prints a table, then lists the same directory with ``resultstore ls`` and
  ``resultstore get``, and stops the worker cleanly.

This file is also the worker's app module (``celery -A demo worker``): importing it
builds the app from ``RESULTSTORE_DEMO_DIR`` without running the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import Celery, chord, group
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

import resultstore
from resultstore_file.host import FileBackend

HERE = Path(__file__).resolve().parent
ENV_DIR = "RESULTSTORE_DEMO_DIR"


class DemoError(Exception):
    """What the failing task raises; the client gets it back with its type."""


def make_app(workdir: Path) -> Celery:
    """The demo app: filesystem broker and ``file://`` results under ``workdir``."""
    queue, processed, control = workdir / "broker", workdir / "processed", workdir / "control"
    for folder in (queue, processed, control, workdir / "results"):
        folder.mkdir(parents=True, exist_ok=True)
    app = Celery("demo", set_as_current=False)
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={"data_folder_in": str(queue), "data_folder_out": str(queue),
                                  "processed_folder": str(processed),
                                  "control_folder": str(control), "polling_interval": 0.05},
        result_backend=f"file://{workdir / 'results'}",
        result_extended=True,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="demo.add", shared=False)
    def add(x: int, y: int) -> int:
        time.sleep(0.05)
        return x + y

    @app.task(name="demo.square", shared=False)
    def square(x: int) -> int:
        return x * x

    @app.task(name="demo.tsum", shared=False)
    def tsum(values: list[int]) -> dict[str, Any]:
        return {"header": values, "sum": sum(values)}

    @app.task(name="demo.fail", shared=False)
    def fail(why: str) -> None:
        raise DemoError(why)

    return app


#: The worker process imports this module; it finds its app here.
app = make_app(Path(os.environ[ENV_DIR])) if ENV_DIR in os.environ else None


def start_worker(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / "worker.log"
    env = {**os.environ, ENV_DIR: str(workdir),
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "demo:app", "worker", "--pool=prefork",
             "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", f"--hostname=demo@{os.uname().nodename}"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return worker, log


def stop_worker(worker: subprocess.Popen[bytes], console: Console) -> None:
    """Warm shutdown (SIGTERM: finish running tasks), as an operator would."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            console.print("[red]worker did not stop within 30 s; killed[/red]")
            return
    console.print(f"worker stopped cleanly (exit code {worker.returncode})")


def run_demo(workdir: Path) -> int:
    console = Console(highlight=False)
    started = time.monotonic()
    os.environ[ENV_DIR] = str(workdir)
    demo_app = make_app(workdir)
    url = demo_app.conf.result_backend

    backend_type = type(demo_app.backend)
    assert backend_type is FileBackend, f"Celery loaded {backend_type}, not resultstore-file's class"
    console.print(Panel.fit(
        f"broker          filesystem://  ({workdir / 'broker'})\n"
        f"result_backend  {url}\n"
        f"type(app.backend) = {backend_type.__module__}.{backend_type.__qualname__}\n"
        f"(loaded by Celery from the 'file' entry point of resultstore-file, replacing "
        f"celery.backends.filesystem:FilesystemBackend)", title="resultstore demo"))

    worker, log = start_worker(workdir)
    client = resultstore.connect(url)  # resultstore's own client: no Celery needed to read
    try:
        t = demo_app.tasks
        with console.status("starting a celery worker (prefork, 2 processes)..."):
            warmup = t["demo.add"].delay(0, 0)
            try:
                resultstore.AsyncResult(warmup.id, client).get(timeout=90, interval=0.1)
            except resultstore.TimeoutError:
                console.print(f"[red]the worker did not answer; its log:[/red]\n{log.read_text()}")
                return 1
        console.print(f"worker ready after {time.monotonic() - started:.1f}s (pid {worker.pid})")

        adds = [t["demo.add"].delay(i, i * 10) for i in range(1, 9)]
        failing = t["demo.fail"].delay("this task fails on purpose")
        squares = group(t["demo.square"].s(i) for i in range(1, 6)).apply_async()
        squares.save()
        header = [t["demo.square"].s(i) for i in range(1, 11)]
        body = chord(header)(t["demo.tsum"].s())

        # sync: resultstore's ResultSet over every task, progress as each one finishes
        everything = resultstore.ResultSet(
            [resultstore.AsyncResult(r.id, client) for r in [*adds, failing, *squares.results]])
        with Progress(SpinnerColumn(), TextColumn("waiting (sync client)"), BarColumn(),
                      MofNCompleteColumn(), console=console) as progress:
            bar = progress.add_task("tasks", total=len(everything.results))
            for _ in everything.iter_ready(timeout=60, interval=0.1):
                progress.advance(bar)

        # asyncio: the chord body and the saved group, read back by id
        async def read_async() -> tuple[Any, list[Any]]:
            chord_value = await resultstore.AsyncResult(body.id, client).aget(timeout=60)
            restored = resultstore.GroupResult.restore(squares.id, backend=client)
            assert restored is not None
            group_values = [await r.aget(timeout=60) for r in restored.results]
            return chord_value, group_values

        chord_value, group_values = asyncio.run(read_async())
        console.print("asyncio client: chord body read with [bold]await AsyncResult.aget()[/bold], "
                      "group restored by id and read with [bold]await r.aget()[/bold]")
        failure = resultstore.AsyncResult(failing.id, client)
        error = failure.get(timeout=10, propagate=False)

        table = Table(title="results (read with resultstore's client)")
        for column in ("task", "id", "state", "result"):
            table.add_column(column, overflow="fold")
        for i, r in enumerate(adds, start=1):
            table.add_row(f"add({i}, {i * 10})", r.id[:8], client.get_state(r.id),
                          str(resultstore.AsyncResult(r.id, client).get()))
        table.add_row("fail(...)", failing.id[:8], failure.state,
                      f"{type(error).__name__}: {error}")
        table.add_row("group square(1..5)", squares.id[:8], "SUCCESS", str(group_values))
        table.add_row("chord body tsum(square(1..10))", body.id[:8], client.get_state(body.id),
                      str(chord_value))
        console.print(table)
        assert isinstance(error, Exception) and type(error).__name__ == "DemoError"
        assert group_values == [1, 4, 9, 16, 25]
        assert chord_value == {"header": [i * i for i in range(1, 11)], "sum": 385}
        console.print(f"[bold green]chord body result: sum of the header's results "
                      f"{chord_value['header']} = {chord_value['sum']}[/bold green]")

        for argv in (["ls", url], ["get", url, body.id]):
            console.rule(f"$ resultstore {' '.join(argv)}")
            done = subprocess.run([sys.executable, "-m", "resultstore.cli", *argv],
                                  env={**os.environ, "COLUMNS": str(max(console.width, 100))},
                                  check=False)
            if done.returncode != 0:
                console.print(f"[red]resultstore {argv[0]} exited {done.returncode}[/red]")
                return 1
    finally:
        stop_worker(worker, console)
    console.print(f"demo finished in {time.monotonic() - started:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="resultstore-demo-"))
    try:
        return run_demo(workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
