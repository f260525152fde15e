"""Riak on the HTTP stand-in (``plugins/riak/tests/riak_standin.py``): resultstore vs the raw
HTTP client (httpx), same server, same process.  Celery 5.7 has no Riak backend (its alias
points at a module it no longer ships), so there is no Celery column.

The stand-in speaks Riak's HTTP API from Python's ``http.server`` in memory: the figures
compare requests per operation and client overhead, not Riak's.  Set RESULTSTORE_TEST_RIAK_URL
(``riak://host:8098``, with a ``strong`` bucket type) to run on a real node.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from .harness import Report, Row, chord_parts_per_second, interleaved, on_standin_or_real, ready_ids

SUITE = "riak (HTTP stand-in)"
STANDIN = Path(__file__).parents[1] / "plugins" / "riak" / "tests" / "riak_standin.py"


def run(report: Report, quick: bool = False) -> None:
    on_standin_or_real(report, quick, _run, env="RESULTSTORE_TEST_RIAK_URL",
                       real_suite="riak (real node)", standin=STANDIN, tmp_prefix="rs-bench-riak-",
                       url="riak://127.0.0.1:{port}", suite=SUITE)


def _run(report: Report, server: str, quick: bool, suite: str) -> None:
    import httpx

    import resultstore
    from resultstore import states
    from resultstore_riak.store import client_options

    n = 200 if quick else 1000
    url = f"{server}/bench-{uuid.uuid4().hex[:8]}?bucket_type=strong"
    ours = resultstore.connect(url)
    store = ours.store
    raw = httpx.Client(**client_options(store.config))  # type: ignore[attr-defined]
    body = json.dumps(ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"}).decode())
    headers = {"Content-Type": "application/json"}

    stored = interleaved({
        "ours": lambda i: ours.store_result(f"o{i}", i, states.SUCCESS),
        "raw": lambda i: raw.put(store.path(f"raw-{i}"), content=body,  # type: ignore[attr-defined]
                                 headers={**headers, "If-None-Match": "*"})}, n)
    report.add(Row(suite, "store_result (new task)", "ops/s", stored["ours"], None, stored["raw"],
                   note="ours and raw: one PUT with If-None-Match: * (strongly consistent type)"))
    got = interleaved({
        "ours": lambda i: ours.get_task_meta(f"o{i % n}", cache=False),
        "raw": lambda i: json.loads(raw.get(store.path(f"raw-{i % n}")).content)},  # type: ignore[attr-defined]
        n)
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s", got["ours"], None, got["raw"]))
    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    join = interleaved({
        "ours": lambda i: resultstore.GroupResult(
            "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(),
        "raw": lambda i: [raw.get(store.path(f"celery-task-meta-{t}"))  # type: ignore[attr-defined]
                          for t in ids]}, 1)
    report.add(Row(suite, f"join of {size} ready results", "joins/s", join["ours"], None,
                   join["raw"], note=("ours: concurrent GETs on a pool of 10 threads (Riak has "
                                      "no multi-get); raw: one GET after another")))
    report.extras[f"{suite}: chord parts/s (one process, native: create-if-absent part + "
                  f"vclock-checked chord object)"] = chord_parts_per_second(ours, quick)
    ours.close()
    raw.close()
