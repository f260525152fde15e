"""Couchbase: resultstore-couchbase vs Celery's CouchbaseBackend vs raw SDK calls, ON THE STAND-IN.

No Couchbase Server can be installed on the machines this runs on, so every figure here is
measured on the plugin's stand-in at the SDK's network boundary
(``plugins/couchbase/tests/couchbase_fake``: the installed SDK's option, transcoder and result
code over an in-memory document server, no network).  The three sides use the same stand-in,
same run.  Celery's backend cannot run on SDK 4 as it is (see the plugin's README); it runs here
with the three shims its cross-read tests use (``ClusterOptions``, ``result_expires = None``,
``GetResult.content``).  The ratios say how much client-side work each side does per operation
and how many SDK calls a join takes, not what a server delivers.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from .harness import Report, Row, best_seconds, ops_per_second

SUITE = "couchbase"
LABEL = "stand-in at the SDK boundary (couchbase SDK 4 code, in-memory documents), not a server"
URL = "couchbase://bench:bench-password@127.0.0.1/results"


def run(report: Report, quick: bool = False) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "couchbase" / "tests"))
    import celery.backends.couchbase as celery_couchbase
    import couchbase.cluster
    from celery import Celery
    from couchbase.options import ClusterOptions, GetOptions, UpsertOptions
    from couchbase.result import GetResult
    from couchbase_fake.sdk import FakeCluster
    from couchbase_fake.server import DocumentServer

    import resultstore
    from resultstore import states
    from resultstore_couchbase.payload import TRANSCODER
    from resultstore_couchbase.store import connect, expiry

    n = 300 if quick else 2000
    saved = (couchbase.cluster.Cluster, celery_couchbase.Cluster, getattr(GetResult, "content", None))
    FakeCluster.server = DocumentServer()
    couchbase.cluster.Cluster = FakeCluster  # type: ignore[misc]
    celery_couchbase.Cluster = lambda uri, auth: FakeCluster(uri, ClusterOptions(auth))
    GetResult.content = property(lambda result: result.value)  # type: ignore[attr-defined]
    try:
        app = Celery("bench", broker="memory://", set_as_current=False)
        app.conf.result_expires = None  # Celery's ttl= is refused by SDK 4
        ours = resultstore.connect(URL)
        theirs = celery_couchbase.CouchbaseBackend(app=app, url=URL)
        raw = connect(ours.store.config)[1]  # type: ignore[attr-defined]
        run_id = uuid.uuid4().hex[:6]
        payload = ours.encode({"status": "SUCCESS", "result": 1})

        def raw_write(i: int) -> None:
            raw.upsert(f"raw-{run_id}-{i}", payload,
                       UpsertOptions(expiry=expiry(86400), transcoder=TRANSCODER))

        def writer(backend: object, prefix: str) -> Callable[[int], object]:
            return lambda i: backend.store_result(f"{prefix}-{run_id}-{i}", i, states.SUCCESS)  # type: ignore[attr-defined]

        report.add(Row(SUITE, "store_result (stand-in)", "ops/s",
                       ops_per_second(writer(ours, "o"), n, 1),
                       ops_per_second(writer(theirs, "c"), n, 1),
                       ops_per_second(raw_write, n, 1),
                       note=(f"{LABEL}; ours: one insert (CAS-guarded path, first write); Celery: "
                             f"one upsert without expiry; raw: one upsert")))
        report.add(Row(SUITE, "get_task_meta, no cache (stand-in)", "ops/s",
                       ops_per_second(lambda i: ours.get_task_meta(f"o-{run_id}-{i % n}", cache=False), n),
                       ops_per_second(lambda i: theirs.get_task_meta(f"c-{run_id}-{i % n}", cache=False), n),
                       ops_per_second(lambda i: raw.get(f"raw-{run_id}-{i % n}",
                                                        GetOptions(transcoder=TRANSCODER)).value, n),
                       note=f"{LABEL}; one get each"))
        size = min(1000, n)  # results written above
        ids = [f"o-{run_id}-{i}" for i in range(size)]
        cids = [f"c-{run_id}-{i}" for i in range(size)]
        keys = [f"celery-task-meta-{t}" for t in ids]
        ours_s = best_seconds(lambda: ours.get_many(ids, cache=False), 3)
        theirs_s = best_seconds(lambda: dict(theirs.get_many(cids, timeout=10)), 3)
        raw_s = best_seconds(lambda: [ours.decode(r.value) for r in raw.get_multi(
            keys, transcoder=TRANSCODER).results.values()], 3)
        report.add(Row(SUITE, f"get_many of {size} ready results (stand-in)", "reads/s",
                       1 / ours_s, 1 / theirs_s, 1 / raw_s,
                       note=(f"{LABEL}; get_many (what join_native reads with) of ready results, no "
                             f"cache: ours one get_multi, Celery's mget one get_multi too; raw: "
                             f"one get_multi and decoding")))
        report.extras["couchbase"] = {"measured_on": LABEL, "n": n, "join_size": size}
        ours.close()
    finally:
        couchbase.cluster.Cluster, celery_couchbase.Cluster = saved[0], saved[1]
        if saved[2] is None:
            del GetResult.content  # type: ignore[attr-defined]
