"""CouchDB on pouchdb-server (npm ``pouchdb-server@4``, in memory): resultstore vs Celery's
CouchBackend (pycouchdb) vs the raw HTTP client (httpx), same server, same process.

pouchdb-server speaks CouchDB's HTTP API from Node.js on an in-memory store, so the figures
compare requests per operation and client overhead; a real CouchDB (Erlang, disk) has
different absolute costs.  Set RESULTSTORE_TEST_COUCHDB_URL (``couchdb://user:pw@host:5984``)
to run on a real server.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from .harness import Report, Row, chord_parts_per_second, interleaved, ready_ids, wakeup

SUITE = "couchdb (pouchdb-server)"


def run(report: Report, quick: bool = False) -> None:
    real = os.environ.get("RESULTSTORE_TEST_COUCHDB_URL")
    if real:
        _run(report, real.rstrip("/"), quick, "couchdb (real server)")
        return
    from resultstore.testing.pouchdb import pouchdb_server

    with pouchdb_server(Path(tempfile.mkdtemp(prefix="rs-bench-couchdb-"))) as url:
        _run(report, url, quick, SUITE)


def _run(report: Report, server: str, quick: bool, suite: str) -> None:
    import httpx
    from celery import Celery
    from celery.backends.couchdb import CouchBackend

    import resultstore
    from resultstore import states
    from resultstore.waiting import waiter
    from resultstore_couchdb.client import client_options

    n = 200 if quick else 1000
    database = f"bench-{uuid.uuid4().hex[:8]}"
    url = f"{server}/{database}"
    app = Celery("bench", broker="memory://", set_as_current=False)
    theirs = CouchBackend(app=app, url=url)
    ours = resultstore.connect(url)
    config = ours.store.config  # type: ignore[union-attr]
    raw = httpx.Client(**client_options(config))
    db = config.database_path
    value = ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"}).decode()

    store = interleaved({
        "ours": lambda i: ours.store_result(f"o{i}", i, states.SUCCESS),
        "celery": lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS),
        "raw": lambda i: raw.put(f"{db}/raw-{i}", json={"value": value})}, n)
    report.add(Row(suite, "store_result (new task)", "ops/s", store["ours"], store["celery"], store["raw"],
                   note=("ours: one PUT without _rev (create-if-absent keeps a SUCCESS); Celery: "
                         "a GET (is a SUCCESS stored?) then a PUT; raw: one PUT")))
    get = interleaved({
        "ours": lambda i: ours.get_task_meta(f"o{i % n}", cache=False),
        "celery": lambda i: theirs.get_task_meta(f"c{i % n}", cache=False),
        "raw": lambda i: raw.get(f"{db}/raw-{i % n}")}, n)
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s", get["ours"], get["celery"], get["raw"]))

    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    keys = [f"celery-task-meta-{t}" for t in ids]
    join = interleaved({
        "ours": lambda i: resultstore.GroupResult(
            "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(),
        # what GroupResult.join_native runs on Celery's backend (the app's backend would be ours)
        "celery": lambda i: dict(theirs.get_many(ids, timeout=30, interval=0.05)),
        "raw": lambda i: raw.post(f"{db}/_all_docs", params={"include_docs": "true"},
                                  json={"keys": keys}).json()}, 1)
    ours_s, theirs_s, raw_s = (1 / join[k] for k in ("ours", "celery", "raw"))
    report.add(Row(suite, f"join of {size} ready results", "joins/s", 1 / ours_s, 1 / theirs_s,
                   1 / raw_s, note=("ours: one POST _all_docs?include_docs=true; Celery: "
                                    "get_many (join_native), its mget is one GET per result; raw: one POST")))

    latencies = {"ours": wakeup(ours, waiter, states, 20 if quick else 50)}
    report.extras[f"{suite}: wake-up latency ms (ours: _changes push; Celery polls every 0.5 s)"] = (
        latencies)

    report.extras[f"{suite}: chord parts/s (one process, native: create-if-absent part + listing)"] = (
        chord_parts_per_second(ours, quick))
    ours.close()
    raw.close()

