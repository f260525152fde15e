"""Cosmos DB **on the HTTP stand-in** (plugins/cosmosdbsql/tests/cosmos_standin.py): resultstore
vs Celery's CosmosDBSQLBackend (pydocumentdb) vs the raw azure-cosmos client, same server, same
process.

No Cosmos DB account or emulator is reachable here, so these figures measure the client side
(requests per operation, SDK overhead) over real HTTP against an in-memory server; they say
nothing about request units or latency on Azure.  Set RESULTSTORE_TEST_COSMOSDBSQL_URL to run on
a real account.
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

SUITE = "cosmosdbsql (stand-in)"
STANDIN = Path(__file__).parents[1] / "plugins" / "cosmosdbsql" / "tests" / "cosmos_standin.py"


def run(report: Report, quick: bool = False) -> None:
    on_standin_or_real(report, quick, _run, env="RESULTSTORE_TEST_COSMOSDBSQL_URL",
                       real_suite="cosmosdbsql (real account)", standin=STANDIN,
                       tmp_prefix="rs-bench-cosmos-",
                       url="cosmosdbsql://:a2V5@127.0.0.1:{port}", suite=SUITE, strip=False)


def _run(report: Report, url: str, quick: bool, suite: str) -> None:
    from celery import Celery
    from celery.backends.cosmosdbsql import CosmosDBSQLBackend

    import resultstore
    from resultstore import states

    n = 200 if quick else 1000
    settings = {"cosmosdbsql_database_name": f"bench{uuid.uuid4().hex[:8]}"}
    app = Celery("bench", broker="memory://", set_as_current=False)
    app.conf.update(settings)
    ours = resultstore.connect(url, settings)
    theirs = CosmosDBSQLBackend(app=app, url=url)
    raw = ours.store.container  # type: ignore[union-attr]
    text = ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"}).decode()

    report.add(Row(suite, "store_result (new task)", "ops/s",
                   ops_per_second(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: raw.create_item({"id": f"raw-{i}", "value": text},
                                                            no_response=True), n),
                   note=("ours: one create_item; Celery: a read (is a SUCCESS stored?) then an "
                         "upsert; raw: one create_item")))
    report.add(Row(suite, "get_task_meta (no cache)", "ops/s",
                   ops_per_second(lambda i: ours.get_task_meta(f"o{i % n}", cache=False), n),
                   ops_per_second(lambda i: theirs.get_task_meta(f"c{i % n}", cache=False), n),
                   ops_per_second(lambda i: raw.read_item(f"raw-{i % n}",
                                                          partition_key=f"raw-{i % n}"), n)))

    size = 200 if quick else 1000
    ids = ready_ids(ours, size)
    keys = [f"celery-task-meta-{t}" for t in ids]
    ours_s, theirs_s = join_seconds(ours, theirs, app, ids)
    raw_s = best_seconds(lambda: raw.read_items([(k, k) for k in keys]), 3)
    report.add(Row(suite, f"join of {size} ready results", "joins/s", 1 / ours_s, 1 / theirs_s,
                   1 / raw_s, note=("ours: read_items (one id IN query); Celery: one read per "
                                    "result; raw: read_items")))

    report.extras[f"{suite}: chord parts/s (one process, native counting)"] = (
        chord_parts_per_second(ours, quick))
    ours.close()
