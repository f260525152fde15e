"""Elasticsearch **on the HTTP stand-in** (plugins/elasticsearch/tests/es_standin.py): resultstore
vs Celery's ElasticsearchBackend vs the raw client, same server, same process.

No real Elasticsearch can run here, so these figures measure the client side (requests per
operation, encoding) over real HTTP against an in-memory server; they say nothing about
Elasticsearch's own indexing cost.  Set RESULTSTORE_TEST_ELASTICSEARCH_URL to run on a real server.
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

SUITE = "elasticsearch (stand-in)"
STANDIN = Path(__file__).parents[1] / "plugins" / "elasticsearch" / "tests" / "es_standin.py"


def run(report: Report, quick: bool = False) -> None:
    on_standin_or_real(report, quick, _run, env="RESULTSTORE_TEST_ELASTICSEARCH_URL",
                       real_suite="elasticsearch (real server)", standin=STANDIN, tmp_prefix="rs-bench-es-",
                       url="elasticsearch://127.0.0.1:{port}", suite=SUITE)


def _run(report: Report, server: str, quick: bool, suite: str) -> None:
    import elasticsearch
    from celery import Celery
    from celery.backends.elasticsearch import ElasticsearchBackend

    import resultstore
    from resultstore import states
    from resultstore_elasticsearch.store import client_options

    n = 300 if quick else 1500
    index = f"bench-{uuid.uuid4().hex[:8]}"
    url = f"{server}/{index}"
    app = Celery("bench", broker="memory://", set_as_current=False)
    theirs = ElasticsearchBackend(app=app, url=url)
    ours = resultstore.connect(url)
    config = ours.store.config  # type: ignore[union-attr]
    raw = elasticsearch.Elasticsearch(config.node, **client_options(config))
    if int(elasticsearch.__versionstr__.split(".")[0]) >= 9:  # Celery 5.7 cannot build a 9.x client
        theirs._server = elasticsearch.Elasticsearch(config.node, **client_options(config))
    body = {"result": ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"}).decode(),
            "@timestamp": "2026-01-01T00:00:00.000Z"}

    report.add(Row(suite, "store_result (new task)", "ops/s",
                   ops_per_second(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: raw.index(index=index, id=f"raw-{i}", document=body), n),
                   note=("ours: one index op_type=create; Celery: a GET (is a SUCCESS stored?) then "
                         "the create; raw: one index")))
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s",
                   ops_per_second(lambda i: ours.get_task_meta(f"o{i % n}", cache=False), n),
                   ops_per_second(lambda i: theirs.get_task_meta(f"c{i % n}", cache=False), n),
                   ops_per_second(lambda i: raw.get(index=index, id=f"raw-{i % n}"), n)))

    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    keys = [f"celery-task-meta-{t}" for t in ids]
    ours_s, theirs_s = join_seconds(ours, theirs, app, ids)
    raw_s = best_seconds(lambda: raw.mget(index=index, ids=keys), 3)
    report.add(Row(suite, f"join of {size} ready results", "joins/s", 1 / ours_s, 1 / theirs_s,
                   1 / raw_s, note="ours: one _mget; Celery: one GET per result; raw: one _mget"))

    report.extras[f"{suite}: chord parts/s (one process, native counting)"] = (
        chord_parts_per_second(ours, quick))
    ours.close()
    raw.close()
