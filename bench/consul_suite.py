"""Consul on the HTTP stand-in (``plugins/consul/tests/consul_standin.py``): resultstore vs
Celery's ConsulBackend (python-consul2) vs the raw HTTP client (httpx), same server, same
process.

The stand-in speaks Consul's HTTP API from Python's ``http.server`` on an in-memory store, so
the figures compare requests per operation and client overhead; a real agent (Raft, disk) has
different absolute costs.  Set RESULTSTORE_TEST_CONSUL_URL (``consul://host:8500``) to run on
a real agent.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from .harness import Report, Row, chord_parts_per_second, interleaved, on_standin_or_real, ready_ids, wakeup

SUITE = "consul (HTTP stand-in)"
STANDIN = Path(__file__).parents[1] / "plugins" / "consul" / "tests" / "consul_standin.py"


def run(report: Report, quick: bool = False) -> None:
    on_standin_or_real(report, quick, _run, env="RESULTSTORE_TEST_CONSUL_URL",
                       real_suite="consul (real agent)", standin=STANDIN, tmp_prefix="rs-bench-consul-",
                       url="consul://127.0.0.1:{port}", suite=SUITE)


def _run(report: Report, server: str, quick: bool, suite: str) -> None:
    import httpx
    from celery import Celery
    from celery.backends.consul import ConsulBackend

    import resultstore
    from resultstore import states
    from resultstore.waiting import waiter
    from resultstore_consul.store import client_options

    n = 200 if quick else 1000
    url = f"{server}/bench-{uuid.uuid4().hex[:8]}"
    app = Celery("bench", broker="memory://", set_as_current=False)
    theirs = ConsulBackend(app=app, url=url)
    ours = resultstore.connect(url)
    store = ours.store
    raw = httpx.Client(**client_options(store.config))  # type: ignore[attr-defined]
    value = ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"})
    prefix = store.config.prefix  # type: ignore[attr-defined]

    def raw_store(i: int) -> None:  # Celery's requests, without a library: session, acquire
        session = raw.put("/v1/session/create", json={"Name": f"r{i}", "Behavior": "delete",
                                                      "TTL": "86400s"}).json()["ID"]
        raw.put(f"/v1/kv/{prefix}raw-{i}", content=value, params={"acquire": session})

    stored = interleaved({
        "ours": lambda i: ours.store_result(f"o{i}", i, states.SUCCESS),
        "celery": lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS),
        "raw": raw_store}, n)
    report.add(Row(suite, "store_result (new task)", "ops/s", stored["ours"], stored["celery"],
                   stored["raw"], note=("ours: a session, then one transaction (cas 0 + lock); "
                                        "Celery: a session, then PUT ?acquire (no SUCCESS check); "
                                        "raw: Celery's two requests")))
    got = interleaved({
        "ours": lambda i: ours.get_task_meta(f"o{i % n}", cache=False),
        "celery": lambda i: theirs.get_task_meta(f"c{i % n}", cache=False),
        "raw": lambda i: base64.b64decode(raw.get(f"/v1/kv/{prefix}raw-{i % n}").json()[0]["Value"])},
        n)
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s", got["ours"], got["celery"], got["raw"]))

    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    names = [f"{prefix}celery-task-meta-{t}" for t in ids]
    join = interleaved({
        "ours": lambda i: resultstore.GroupResult(
            "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(),
        "celery": lambda i: dict(theirs.get_many(ids, timeout=30, interval=0.05)),
        "raw": lambda i: [raw.put("/v1/txn", json=[{"KV": {"Verb": "get-tree", "Key": k}}
                                                  for k in names[s:s + 64]]).json()
                          for s in range(0, size, 64)]}, 1)
    report.add(Row(suite, f"join of {size} ready results", "joins/s", join["ours"], join["celery"],
                   join["raw"], note=("ours: read-only transactions of get-tree, 64 keys each; "
                                      "Celery: one GET per result; raw: the same transactions")))
    report.extras[f"{suite}: wake-up latency ms (ours: blocking-query push; Celery polls "
                  f"every 0.5 s)"] = {"ours": wakeup(ours, waiter, states, 20 if quick else 50)}
    report.extras[f"{suite}: chord parts/s (one process, native: session + create-if-absent "
                  f"transaction + listing)"] = chord_parts_per_second(ours, quick)
    ours.close()
    raw.close()
