"""``check``, ``get``, ``forget``, ``cleanup``, ``ls`` and ``watch``."""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .. import states
from ..backend import ResultBackend
from ..errors import NotSupported, ResultStoreError, TimeoutError
from ..spec import Capability
from ..waiting import waiter
from .output import Output, short

__all__ = ["check", "get", "forget", "cleanup", "ls", "watch", "done_at", "EXIT_OK", "EXIT_FAILED",
           "EXIT_USAGE", "EXIT_TIMEOUT"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3
_EXTENDED = ("name", "args", "kwargs", "worker", "retries", "queue", "group_id", "parent_id")


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func()
    return (time.perf_counter() - started) * 1000, value


def check(out: Output, backend: ResultBackend, rounds: int) -> int:
    """Write, read back and delete a probe result; exit status reflects health."""
    steps: dict[str, list[float]] = {"write": [], "read": [], "delete": []}
    problem = None
    for _ in range(max(1, rounds)):
        probe, token = f"resultstore-check-{uuid.uuid4()}", uuid.uuid4().hex
        try:
            ms, _ = _timed(lambda: backend.mark_as_done(probe, {"probe": token}))  # noqa: B023
            steps["write"].append(ms)
            ms, meta = _timed(lambda: backend.get_task_meta(probe, cache=False))  # noqa: B023
            steps["read"].append(ms)
            if meta["status"] != states.SUCCESS or meta["result"] != {"probe": token}:
                problem = f"read back {meta['status']} {short(meta.get('result'))}, not the probe"
                break
            ms, _ = _timed(lambda: backend.forget(probe))  # noqa: B023
            steps["delete"].append(ms)
            if backend.get_task_meta(probe, cache=False)["status"] != states.PENDING:
                problem = "the probe is still there after forget"
                break
        except ResultStoreError as exc:
            problem = f"{type(exc).__name__}: {exc}"
            break
    capabilities = sorted(c.value for c in backend.capabilities)
    latency = {step: round(statistics.median(v), 3) for step, v in steps.items() if v}
    healthy = problem is None
    if out.json:
        out.data({"url": backend.as_uri(), "healthy": healthy, "error": problem,
                  "latency_ms": latency, "rounds": len(steps["write"]),
                  "capabilities": capabilities, "store": type(backend.store).__name__})
    else:
        table = Table(title=f"check {backend.as_uri()}", show_header=True)
        table.add_column("step")
        table.add_column("median ms", justify="right")
        for step in steps:
            table.add_row(step, f"{latency[step]:.3f}" if step in latency else "-")
        verdict = (Text("healthy", style="bold green") if healthy
                   else Text(f"UNHEALTHY: {problem}", style="bold red"))
        out.print(table, Text(f"store: {type(backend.store).__name__}; capabilities: "
                              f"{', '.join(capabilities) or 'none'}"), verdict)
    return EXIT_OK if healthy else EXIT_FAILED


def _meta_table(task_id: str, meta: dict[str, Any], out: Output) -> Table:
    table = Table(show_header=False, title=f"task {task_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    status = str(meta.get("status"))
    note = " (unknown, or not started yet)" if status == states.PENDING else ""
    table.add_row("status", Text.assemble(out.state(status), note))
    table.add_row("result", Text(short(meta.get("result"), 2000)))
    for key in ("date_done", "traceback", "children", *_EXTENDED):
        if meta.get(key) not in (None, "", []):
            value = meta[key]
            table.add_row(key, Text(value if isinstance(value, str) else short(value, 2000)))
    return table


def get(out: Output, backend: ResultBackend, task_ids: Sequence[str]) -> int:
    """Print the stored meta of each id."""
    metas = backend.get_many(task_ids, cache=False)
    if out.json:
        out.data({tid: {"task_id": tid, **meta} for tid, meta in metas.items()})
    else:
        out.print(*[_meta_table(tid, meta, out) for tid, meta in metas.items()])
    return EXIT_OK


def forget(out: Output, backend: ResultBackend, task_ids: Sequence[str]) -> int:
    """Delete the results of ``task_ids``; counts the results that existed, not the ids given."""
    ids = list(dict.fromkeys(task_ids))
    metas = backend.get_many(ids, cache=False)
    found = [tid for tid in ids if metas.get(tid, {}).get("status", states.PENDING) != states.PENDING]
    for task_id in ids:
        backend.forget(task_id)
    missing = [tid for tid in ids if tid not in found]
    if out.json:
        out.data({"forgotten": found, "not_found": missing})
    else:
        note = f" ({len(missing)} not found)" if missing else ""
        out.print(f"forgot {len(found)} result(s) in {backend.as_uri()}{note}")
    return EXIT_OK


def cleanup(out: Output, backend: ResultBackend) -> int:
    """Delete expired results where the store does not expire them itself."""
    if Capability.CLEANUP not in backend.capabilities:
        message = f"{type(backend.store).__name__} expires results by itself: nothing to clean."
        out.data({"deleted": 0, "note": message}) if out.json else out.print(message)
        return EXIT_OK
    started = time.perf_counter()
    if out.json:
        deleted = backend.cleanup()
    else:
        with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
                      BarColumn(), TimeElapsedColumn(), console=out.stderr, transient=True) as bar:
            task = bar.add_task(f"cleaning {backend.as_uri()}", total=None)
            deleted = backend.cleanup()
            bar.update(task, total=1, completed=1)
    elapsed = time.perf_counter() - started
    if out.json:
        out.data({"deleted": deleted, "seconds": round(elapsed, 3)})
    else:
        out.print(f"deleted {deleted} expired result(s) from {backend.as_uri()} in {elapsed:.2f}s")
    return EXIT_OK


def done_at(date_done: Any) -> dt.datetime | None:
    """``date_done`` (an ISO string or a datetime; naive means UTC, as Celery) as aware UTC."""
    if date_done is None or date_done == "":
        return None
    when = date_done
    if not isinstance(when, dt.datetime):
        try:
            when = dt.datetime.fromisoformat(str(date_done))
        except ValueError:
            return None
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def _when(date_done: Any) -> str:
    """``2026-01-02T04:04:05.678+01:00`` -> ``2026-01-02 03:04:05`` (UTC)."""
    when = done_at(date_done)
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def _oldest_first(row: tuple[str, dict[str, Any]]) -> tuple[bool, dt.datetime, str]:
    when = done_at(row[1].get("date_done"))
    return (when is None, when or dt.datetime.max.replace(tzinfo=dt.timezone.utc), row[0])


def ls(out: Output, backend: ResultBackend, limit: int | None, batch: int = 500) -> int:
    """List stored task results, oldest first (stores that can scan); ``limit``: the oldest N."""
    try:
        ids = sorted(backend.task_ids())
    except NotSupported as exc:
        out.error(f"{exc} (ls needs a store with the 'scan' capability)", EXIT_USAGE)
        return EXIT_USAGE
    rows: list[tuple[str, dict[str, Any]]] = []
    for start in range(0, len(ids), batch):
        metas = backend.get_many(ids[start:start + batch], cache=False)
        rows += [(tid, m) for tid, m in metas.items()]
    rows.sort(key=_oldest_first)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    if out.json:
        out.data({"total": total, "results": [
            {"task_id": tid, "status": m.get("status"), "name": m.get("name"),
             "date_done": (when.isoformat() if (when := done_at(m.get("date_done"))) else None),
             "result": m.get("result")} for tid, m in rows]})
        return EXIT_OK
    named = any(meta.get("name") for _, meta in rows)  # result_extended metas carry the task name
    # Ids, states and times keep their width (an id is copied from here); the task name and
    # the result preview share the rest, cut with an ellipsis, never wrapped mid-word.  At
    # 80 columns (piped) that leaves room for a short task name and no result (see `get`).
    id_width = max((len(t) for t, _ in rows), default=7)
    spare = out.console.width - id_width - 7 - 19 - 2 * (2 + named)
    task_width = min(spare, max(12, spare * 3 // 5)) if named else 0
    result_width = spare - task_width - 2
    table = Table(title=f"{total} result(s) in {backend.as_uri()}", box=None, pad_edge=False,
                  title_justify="left", header_style="bold underline")
    table.add_column("task id", no_wrap=True, min_width=id_width)
    if named:
        table.add_column("task", no_wrap=True, overflow="ellipsis", width=max(task_width, 4))
    table.add_column("state", no_wrap=True, min_width=7)
    table.add_column("done at (UTC)", no_wrap=True, min_width=19)
    if result_width >= 8:
        table.add_column("result", no_wrap=True, overflow="ellipsis", width=result_width)
    for tid, meta in rows:
        name = str(meta.get("name") or "-")
        if len(name) > task_width:
            name = name.rsplit(".", 1)[-1]  # the function name says more than "proj.tasks…"
        cells: list[RenderableType] = [tid, *([name] if named else []),
                                       out.state(str(meta.get("status"))),
                                       _when(meta.get("date_done"))]
        if result_width >= 8:
            cells.append(short(meta.get("result"), result_width))
        table.add_row(*cells)
    out.print(table)
    if len(rows) < total:
        out.print(f"... {total - len(rows)} more, newer (use --limit)")
    return EXIT_OK


def _watch_view(ids: Sequence[str], latest: dict[str, dict[str, Any]], out: Output,
                elapsed: float) -> Group:
    table = Table(title=f"watching {len(ids)} task(s) — {elapsed:.1f}s")
    table.add_column("")
    table.add_column("task id", overflow="fold")
    table.add_column("state")
    table.add_column("result", overflow="fold")
    for tid in ids:
        meta = latest.get(tid, {"status": states.PENDING})
        status = str(meta.get("status"))
        ready = status in states.READY_STATES
        mark: Any = (Text("✔", style="green") if status == states.SUCCESS else Text("✘", style="red")
                     ) if ready else Spinner("dots")
        table.add_row(mark, tid, out.state(status), short(meta.get("result"), 50) if ready else "")
    done = sum(1 for m in latest.values() if m.get("status") in states.READY_STATES)
    return Group(table, Text(f"{done}/{len(ids)} ready"))


def watch(out: Output, backend: ResultBackend, task_ids: Sequence[str], timeout: float | None,
          interval: float) -> int:
    """Follow the state of ``task_ids`` live until all are ready (pushed where the store can)."""
    ids = list(dict.fromkeys(task_ids))
    latest: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()

    def seen(meta: dict[str, Any]) -> None:
        task_id = meta.get("task_id")
        if task_id in ids:
            latest[str(task_id)] = meta

    live = None
    if not out.json and out.console.is_terminal:  # else: one final table, no animation
        live = Live(_watch_view(ids, latest, out, 0), console=out.console, refresh_per_second=8)

    def redraw() -> None:
        if live is not None:
            live.update(_watch_view(ids, latest, out, time.perf_counter() - started))

    timed_out = False
    try:
        if live is not None:
            live.start()
        for task_id, meta in waiter(backend).iter_ready(ids, timeout=timeout, interval=interval,
                                                         on_message=seen, on_interval=redraw):
            latest[task_id] = meta
            redraw()
    except TimeoutError:
        timed_out = True
    finally:
        redraw()
        if live is not None:
            live.stop()
    if out.json:
        out.data({"timed_out": timed_out, "results": {
            tid: latest.get(tid, {"status": states.PENDING, "result": None}) for tid in ids}})
    elif live is None:
        out.print(_watch_view(ids, latest, out, time.perf_counter() - started))
    if timed_out:
        if not out.json:
            out.error(f"timed out after {timeout}s with tasks still pending")
        return EXIT_TIMEOUT
    failed = [t for t in ids if latest[t].get("status") != states.SUCCESS]
    return EXIT_FAILED if failed else EXIT_OK
