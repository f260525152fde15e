"""Timing helpers, the result table, JSON output and the chart."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Row", "Report", "chord_parts_per_second", "interleaved", "join_seconds",
           "on_standin_or_real",
           "ops_per_second", "percentiles", "ready_ids", "versions", "wakeup"]


def ops_per_second(func: Callable[[int], Any], n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``func(i)`` for i in range(n), in calls per second."""
    best = float("inf")
    for r in range(repeat):
        start = time.perf_counter()
        for i in range(n):
            func(r * n + i)
        best = min(best, time.perf_counter() - start)
    return n / best


def best_seconds(func: Callable[[], Any], repeat: int = 5) -> float:
    """Fastest of ``repeat`` calls of ``func``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p99/max of latency samples (seconds in, milliseconds out)."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.50), "p99": pick(0.99), "max": ordered[-1] * 1000,
            "mean": statistics.fmean(ordered) * 1000, "n": len(ordered)}


def on_standin_or_real(report: Report, quick: bool, run: Callable[[Report, str, bool, str], None], *,
                       env: str, real_suite: str, standin: Path, tmp_prefix: str, url: str,
                       suite: str, strip: bool = True) -> None:
    """``run(report, url, quick, suite)`` on the real server named by ``$env`` if set (its trailing
    ``/`` stripped unless ``strip`` is false), else on the HTTP stand-in script ``standin`` started
    on a free port (``url`` is formatted with ``port``)."""
    real = os.environ.get(env)
    if real:
        run(report, real.rstrip("/") if strip else real, quick, real_suite)
        return
    from resultstore.testing.servers import ServerProcess

    with ServerProcess([sys.executable, str(standin), "{port}"],
                       workdir=Path(tempfile.mkdtemp(prefix=tmp_prefix))) as server:
        run(report, url.format(port=server.port), quick, suite)


def ready_ids(backend: Any, size: int) -> list[str]:
    """``size`` fresh task ids, each stored as SUCCESS through ``backend`` (for the join rows)."""
    from resultstore import states

    ids = [f"j-{uuid.uuid4()}" for _ in range(size)]
    for task_id in ids:
        backend.store_result(task_id, 1, states.SUCCESS)
    return ids


def join_seconds(ours: Any, theirs: Any, app: Any, ids: list[str]) -> tuple[float, float]:
    """Fastest of 3 joins of ``ids``: ours through ``GroupResult.join_native``, Celery's backend
    ``theirs`` through Celery's ``GroupResult.join`` (one poll per result)."""
    from celery.result import AsyncResult as CAsyncResult
    from celery.result import GroupResult as CGroupResult

    import resultstore

    ours_s = best_seconds(lambda: resultstore.GroupResult(
        "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(), 3)
    theirs_s = best_seconds(lambda: CGroupResult(
        "g", [CAsyncResult(t, app=app, backend=theirs) for t in ids], app=app,
        backend=theirs).join(), 3)
    return ours_s, theirs_s

def chord_parts_per_second(backend: Any, quick: bool) -> float:
    """Chord parts returned per second, one process: 20 (quick) or 100 chords of 10 parts."""
    from resultstore import states

    chords, parts = (20, 10) if quick else (100, 10)
    groups = [f"bg-{uuid.uuid4()}" for _ in range(chords)]
    for gid in groups:
        backend.set_chord_size(gid, parts)
    chord_s = best_seconds(lambda: [backend.chord_part_return(g, f"{g}-{i}", i, states.SUCCESS, i)
                                    for g in groups for i in range(parts)], 1)
    return round(chords * parts / chord_s, 1)


def interleaved(funcs: dict[str, Callable[[int], Any]], n: int, rounds: int = 3) -> dict[str, float]:
    """Calls per second of each ``func(i)``, best of ``rounds``; the rounds alternate between the
    functions, so a load swing on the shared machine hits all of them alike."""
    best = dict.fromkeys(funcs, float("inf"))
    for r in range(rounds):
        for label, func in funcs.items():
            start = time.perf_counter()
            for i in range(n):
                func(r * n + i)
            best[label] = min(best[label], time.perf_counter() - start)
    return {label: n / seconds for label, seconds in best.items()}


def wakeup(backend: object, waiter: object, states: object, rounds: int) -> dict[str, float]:
    """p50/max milliseconds from a write to the waiting thread seeing it (push)."""
    samples = []
    for _ in range(rounds):
        task_id = f"w-{uuid.uuid4()}"
        written: list[float] = []

        def write(task_id: str = task_id, written: list[float] = written) -> None:
            time.sleep(0.05)
            written.append(time.perf_counter())
            backend.mark_as_done(task_id, 1)  # type: ignore[attr-defined]

        thread = threading.Thread(target=write)
        thread.start()
        waiter(backend).wait(task_id, timeout=30, interval=5)  # type: ignore[operator]
        samples.append(time.perf_counter() - written[0])
        thread.join()
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered) * 1000, 2), "max": round(ordered[-1] * 1000, 2)}


@dataclass
class Row:
    """One measured scenario: ours vs Celery's backend vs the raw client."""

    suite: str
    scenario: str
    unit: str
    ours: float
    celery: float | None = None
    raw: float | None = None
    higher_is_better: bool = True
    note: str = ""

    def ratio(self, other: float | None) -> float | None:
        if not other or not self.ours:
            return None
        return self.ours / other if self.higher_is_better else other / self.ours


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {row.suite:6} {row.scenario:42} ours={row.ours:,.3f} {row.unit}"
              f"  celery={_fmt(row.celery)}  raw={_fmt(row.raw)}", flush=True)
        return row

    def table(self) -> str:
        lines = ["| suite | scenario | unit | ours | Celery | raw client | ours/Celery | ours/raw |",
                 "|---|---|---|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.suite} | {r.scenario} | {r.unit} | {_fmt(r.ours)} | {_fmt(r.celery)} | "
                         f"{_fmt(r.raw)} | {_ratio(r.ratio(r.celery))} | {_ratio(r.ratio(r.raw))} |")
        return "\n".join(lines)

    def to_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine(), "versions": versions(),
                                    "rows": [asdict(r) | {"ratio_celery": r.ratio(r.celery),
                                                          "ratio_raw": r.ratio(r.raw)} for r in self.rows],
                                    "extras": self.extras}, indent=2))

    def chart(self, path: Path) -> None:
        try:
            import matplotlib
        except ImportError:  # the bench session installs it; elsewhere keep the last chart
            print(f"matplotlib not installed: {path} not redrawn", flush=True)
            return

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [r for r in self.rows if r.celery]
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
        labels = [f"{r.suite}: {r.scenario}" for r in rows]
        ax.barh(labels, [r.ratio(r.celery) or 0 for r in rows], color="#2a7ab9")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("resultstore ÷ Celery built-in (higher is better, log scale)")
        ax.invert_yaxis()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def versions() -> dict[str, str]:
    found = {}
    for dist in ("resultstore", "resultstore-redis", "resultstore-file", "celery", "kombu", "redis",
                 "hiredis"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


def machine() -> dict[str, str]:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(os.cpu_count()), "processor": platform.processor() or platform.machine()}
