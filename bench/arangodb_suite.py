"""ArangoDB **on the HTTP stand-in** (plugins/arangodb/tests/arango_standin.py): resultstore vs
Celery's ArangoDbBackend (pyArango) vs the raw python-arango client, same server, same process.

No real ArangoDB can run here, so these figures measure the client side (requests per
operation, encoding) over real HTTP against an in-memory server.  Set
RESULTSTORE_TEST_ARANGODB_URL to run on a real server.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from .harness import (
    Report,
    Row,
    best_seconds,
    chord_parts_per_second,
    join_seconds,
    on_standin_or_real,
    ops_per_second,
    ready_ids,
)

SUITE = "arangodb (stand-in)"
STANDIN = Path(__file__).parents[1] / "plugins" / "arangodb" / "tests" / "arango_standin.py"


def run(report: Report, quick: bool = False) -> None:
    on_standin_or_real(report, quick, _run, env="RESULTSTORE_TEST_ARANGODB_URL",
                       real_suite="arangodb (real server)", standin=STANDIN, tmp_prefix="rs-bench-arango-",
                       url="arangodb://127.0.0.1:{port}", suite=SUITE)


def _run(report: Report, server: str, quick: bool, suite: str) -> None:
    from celery import Celery
    from celery.backends.arangodb import ArangoDbBackend

    import resultstore
    from resultstore import states

    n = 300 if quick else 1500
    url = f"{server}/bench{uuid.uuid4().hex[:8]}/celery"
    app = Celery("bench", broker="memory://", set_as_current=False)
    ours = resultstore.connect(url)
    ours.get_task_meta("setup")  # creates the database and collection Celery needs
    theirs = ArangoDbBackend(app=app, url=url)
    raw = ours.store.collection  # type: ignore[union-attr]
    text = ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"}).decode()

    report.add(Row(suite, "store_result (new task)", "ops/s",
                   ops_per_second(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: raw.insert({"_key": f"raw-{i}", "task": text},
                                                       silent=True), n),
                   note=("ours: one insert; Celery: a DOCUMENT() query (is a SUCCESS stored?) "
                         "then an UPSERT query; raw: one insert")))
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s",
                   ops_per_second(lambda i: ours.get_task_meta(f"o{i % n}", cache=False), n),
                   ops_per_second(lambda i: theirs.get_task_meta(f"c{i % n}", cache=False), n),
                   ops_per_second(lambda i: raw.get(f"raw-{i % n}"), n),
                   note="ours and raw: GET /_api/document; Celery: an AQL cursor"))

    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    keys = [f"celery-task-meta-{t}" for t in ids]
    ours_s, theirs_s = join_seconds(ours, theirs, app, ids)
    raw_s = best_seconds(lambda: raw.get_many(keys), 3)
    report.add(Row(suite, f"join of {size} ready results", "joins/s", 1 / ours_s, 1 / theirs_s,
                   1 / raw_s, note=("ours: one onlyget PUT; Celery: one AQL cursor per result "
                                    "(join polls each); raw: one get_many")))

    report.extras[f"{suite}: chord parts/s (one process, native counting)"] = (
        chord_parts_per_second(ours, quick))
    ours.close()
