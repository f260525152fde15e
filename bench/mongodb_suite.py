"""MongoDB: resultstore-mongodb vs Celery's MongoBackend vs raw pymongo calls, ON THE STAND-IN.

No MongoDB server can be installed on the machines this runs on, so every figure here is
measured on mongomock (patched in for ``pymongo.MongoClient``; the three sides use the same
in-memory server, one database each, same run).  mongomock scans a collection per query, so
these are client-side costs plus in-memory scans, not MongoDB's: the ratios say how much work
each side does per operation and how many queries a join takes, not what a real server delivers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .harness import Report, Row, best_seconds, ops_per_second

SUITE = "mongodb"
HOST = "mongomock.invalid:27017"
LABEL = "stand-in: mongomock 4.3, not a MongoDB server"


def run(report: Report, quick: bool = False) -> None:
    import mongomock
    import pymongo
    from celery import Celery
    from celery.backends.mongodb import MongoBackend
    from celery.result import AsyncResult as CAsyncResult
    from celery.result import GroupResult as CGroupResult

    import resultstore
    from resultstore import states

    n = 300 if quick else 1000
    app = Celery("bench", broker="memory://", set_as_current=False)
    with mongomock.patch(servers=(HOST,)):
        run_id = uuid.uuid4().hex[:6]

        def sides(tag: str, **settings: object) -> tuple[Any, Any, Any]:
            """Ours, Celery's and a raw collection, each in a fresh database (equal sizes:
            mongomock scans whole collections, so unequal ones would skew the ratios)."""
            return (resultstore.connect(f"mongodb://{HOST}/ours_{tag}_{run_id}", **settings),
                    MongoBackend(app=app, url=f"mongodb://{HOST}/celery_{tag}_{run_id}"),
                    pymongo.MongoClient(f"mongodb://{HOST}")[f"raw_{tag}_{run_id}"]["celery_taskmeta"])

        ours, theirs, raw = sides("a", result_expires=0)  # see the TTL row below
        payload = ours.encode(1).decode()

        def raw_writer(collection: Any) -> Callable[[int], None]:
            def write(i: int) -> None:
                collection.replace_one({"_id": f"t{i}", "status": {"$ne": "SUCCESS"}},
                                       {"_id": f"t{i}", "status": "SUCCESS", "result": payload},
                                       upsert=True)
            return write

        report.add(Row(SUITE, "store_result (stand-in)", "ops/s",
                       ops_per_second(lambda i: ours.store_result(f"t{i}", i, states.SUCCESS), n, 1),
                       ops_per_second(lambda i: theirs.store_result(f"t{i}", i, states.SUCCESS), n, 1),
                       ops_per_second(raw_writer(raw), n, 1),
                       note=(f"{LABEL}; every side: one conditional replace_one (upsert); "
                             f"ours with result_expires=0 (no TTL index), see the next row")))
        untimed, theirs_b, raw_b = sides("b")
        report.add(Row(SUITE, "store_result, with TTL index (stand-in)", "ops/s",
                       ops_per_second(lambda i: untimed.store_result(f"t{i}", i, states.SUCCESS), n, 1),
                       ops_per_second(lambda i: theirs_b.store_result(f"t{i}", i, states.SUCCESS), n, 1),
                       ops_per_second(raw_writer(raw_b), n, 1),
                       note=(f"{LABEL}; ours with the default result_expires, so with its TTL "
                             f"index: mongomock emulates a TTL index by scanning the whole "
                             f"collection on every access, a cost a MongoDB server does not have "
                             f"(it deletes from a background monitor)")))
        untimed.close()
        report.add(Row(SUITE, "get_task_meta, no cache (stand-in)", "ops/s",
                       ops_per_second(lambda i: ours.get_task_meta(f"t{i % n}", cache=False), n),
                       ops_per_second(lambda i: theirs.get_task_meta(f"t{i % n}", cache=False), n),
                       ops_per_second(lambda i: raw.find_one({"_id": f"t{i % n}"}), n),
                       note=f"{LABEL}; one find_one each (no TTL index)"))

        size = 1000
        ids = [f"j-{uuid.uuid4()}" for _ in range(size)]
        for task_id in ids:
            ours.store_result(task_id, 1, states.SUCCESS)
            theirs.store_result(task_id, 1, states.SUCCESS)
            raw.replace_one({"_id": task_id}, {"_id": task_id, "status": "SUCCESS",
                                               "result": payload}, upsert=True)
        ours_s = best_seconds(lambda: resultstore.GroupResult(
            "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(), 3)
        theirs_s = best_seconds(lambda: CGroupResult(
            "g", [CAsyncResult(t, app=app, backend=theirs) for t in ids], app=app,
            backend=theirs).join(), 1)
        raw_s = best_seconds(lambda: [ours.decode(d["result"])
                                      for d in raw.find({"_id": {"$in": ids}})], 3)
        report.add(Row(SUITE, f"join of {size} ready results (stand-in)", "joins/s",
                       1 / ours_s, 1 / theirs_s, 1 / raw_s,
                       note=(f"{LABEL}; no TTL index; ours: one find({{_id: {{$in}}}}); Celery's "
                             f"MongoBackend has no native join: GroupResult.join, one find_one "
                             f"per result (each a collection scan on mongomock, which exaggerates the gap)")))
        report.extras["mongodb"] = {"measured_on": LABEL, "n": n, "join_size": size}
        ours.close()
