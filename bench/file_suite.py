"""File: resultstore-file vs Celery's FilesystemBackend vs raw file writes, one directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

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

    def raw_read(i: int) -> None:
        with open(root / f"raw-{i % n}", "rb") as f:
            f.read()

    report.add(Row(SUITE, "store_result", "ops/s",
                   ops_per_second(lambda i: ours.store_result(f"o{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                   ops_per_second(raw_write, n),
                   note=("ours: per-key lock (a stored SUCCESS is never overwritten, across processes) "
                         "+ temp file + fsync + rename + expiry marker; Celery: one open/write, "
                         "no fsync, torn reads possible")))
    unsynced = resultstore.connect(f"{url}?fsync=0")
    report.add(Row(SUITE, "store_result, fsync=0", "ops/s",
                   ops_per_second(lambda i: unsynced.store_result(f"u{i}", i, states.SUCCESS), n),
                   ops_per_second(lambda i: theirs.store_result(f"c{i}", i, states.SUCCESS), n),
                   ops_per_second(raw_write, n),
                   note="lock + temp file + rename kept, no fsync: Celery's durability, no torn reads"))
    unsynced.close()
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
