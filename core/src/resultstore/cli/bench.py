"""``resultstore bench URL``: real store / get / join throughput against a backend."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from rich.table import Table

from ..backend import ResultBackend
from ..waiting import Waiter, waiter
from .output import Output

__all__ = ["bench"]


def _measure(label: str, ops: int, calls: Sequence[Callable[[], Any]]) -> dict[str, Any]:
    """Run ``calls`` in order; ``ops`` results are handled in total."""
    latencies = []
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"op": label, "results": ops, "calls": len(calls), "seconds": round(elapsed, 4),
            "ops_per_s": round(ops / elapsed, 1) if elapsed else None,
            "p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 3)}


def _join(wait: Waiter, ids: list[str]) -> None:
    for _ in wait.iter_ready(ids, timeout=60):
        pass


def bench(out: Output, backend: ResultBackend, count: int, size: int, batch: int) -> int:
    """Store ``count`` results of ``size`` bytes, read them one by one, join them in batches.

    Every number is measured on the given backend; the probe results are forgotten after.
    """
    prefix = f"resultstore-bench-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{i}" for i in range(count)]
    value = "x" * size
    batches = [ids[i:i + batch] for i in range(0, count, batch)]
    wait = waiter(backend)
    try:
        rows = [
            _measure("store", count, [partial(backend.mark_as_done, t, value) for t in ids]),
            _measure("get", count, [partial(backend.get_task_meta, t, cache=False) for t in ids]),
            _measure(f"join ({batch}/batch)", count, [partial(_join, wait, b) for b in batches]),
        ]
    finally:
        for task_id in ids:
            backend.forget(task_id)
    if out.json:
        out.data({"url": backend.as_uri(), "value_bytes": size, "results": rows})
        return 0
    table = Table(title=f"bench {backend.as_uri()} — {count} results of {size} bytes")
    for column in ("operation", "ops/s", "p50 ms/call", "p99 ms/call", "calls"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for row in rows:
        table.add_row(row["op"], f"{row['ops_per_s']:,.0f}", f"{row['p50_ms']:.3f}",
                      f"{row['p99_ms']:.3f}", str(row["calls"]))
    out.print(table)
    return 0
