"""Timing helpers, the result table, JSON output and the chart."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Row", "Report", "ops_per_second", "percentiles", "versions"]


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
