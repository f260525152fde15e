"""File: resultstore-file vs Celery's FilesystemBackend vs raw file writes, one directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from .celery_api_suite import interleaved
from .harness import Report, Row, best_seconds, ops_per_second

SUITE = "file"


def run(report: Report, quick: bool = False) -> None:
    from celery import Celery
    from celery.backends.filesystem import FilesystemBackend
    from celery.result import AsyncResult as CAsyncResult
    from celery.result import GroupResult as CGroupResult

    import resultstore
    from resultstore import states

    n = 1000 if quick else 5000
    root = Path(tempfile.mkdtemp(prefix="rs-bench-file-"))
    url = f"file://{root}"
    app = Celery("bench", broker="memory://", set_as_current=False)
    theirs = FilesystemBackend(app=app, url=url)
    ours = resultstore.connect(url)
    payload = ours.encode({"status": "SUCCESS", "result": 1, "task_id": "x"})

    def raw_write(i: int) -> None:
        with open(root / f"raw-{i}", "wb") as f:
            f.write(payload)

    for i in range(n):
        raw_write(i)

    def raw_read(i: int) -> None:
        with open(root / f"raw-{i % n}", "rb") as f:
            f.read()

    synced = resultstore.connect(f"{url}?fsync=1")
    rounds = 15
    per = n // rounds
    counter = iter(range(10**9))

    def batch(func):
        return lambda: [func(next(counter)) for _ in range(per)]

    medians = interleaved({
        "ours": batch(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS)),
        "celery": batch(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS)),
        "raw": batch(raw_write),
        "fsync": batch(lambda i: synced.store_result(f"s{i}", i, states.SUCCESS))}, rounds)
    report.extras["file_store_ms_per_op"] = {k: v * 1e3 / per for k, v in medians.items()}
    report.add(Row(SUITE, "store_result (default: Celery's durability)", "ops/s", per / medians["ours"],
                   per / medians["celery"], per / medians["raw"],
                   note=("ours: temp file + rename (no torn reads) + per-key flock (a stored SUCCESS "
                         "is never overwritten, across processes) + expiry marker, no fsync; Celery: "
                         "read + one open/write in place, no fsync, torn reads possible; "
                         f"median of {rounds} interleaved rounds")))
    report.add(Row(SUITE, "store_result, fsync=1", "ops/s", per / medians["fsync"],
                   per / medians["celery"], per / medians["raw"],
                   note="as above + one fsync per value before the rename: survives power loss"))
    synced.close()
    for i in range(n):
        ours.store_result(f"o{i}", i, states.SUCCESS)
        theirs.store_result(f"c{i}", i, states.SUCCESS)
    report.add(Row(SUITE, "get_task_meta (no cache)", "ops/s",
                   ops_per_second(lambda i: ours.get_task_meta(f"o{i % n}", cache=False), n),
                   ops_per_second(lambda i: theirs.get_task_meta(f"c{i % n}", cache=False), n),
                   ops_per_second(raw_read, n)))

    size = 1000
    ids = [f"j-{uuid.uuid4()}" for _ in range(size)]
    for task_id in ids:
        ours.store_result(task_id, 1, states.SUCCESS)
    ours_s = best_seconds(lambda: resultstore.GroupResult(
        "g", [resultstore.AsyncResult(t, backend=ours) for t in ids], backend=ours).join_native(), 3)
    theirs_s = best_seconds(lambda: CGroupResult(
        "g", [CAsyncResult(t, app=app, backend=theirs) for t in ids], app=app, backend=theirs).join(), 3)
    raw_s = best_seconds(lambda: [ours.decode((root / f"celery-task-meta-{t}").read_bytes()) for t in ids], 3)
    report.add(Row(SUITE, f"join of {size} ready results", "joins/s", 1 / ours_s, 1 / theirs_s, 1 / raw_s,
                   note="Celery's FilesystemBackend has no native join: GroupResult.join"))
    ours.close()
    shutil.rmtree(root, ignore_errors=True)
    os.sync()
