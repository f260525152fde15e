"""Cross-read with Celery 5.7's own FilesystemBackend, both ways, on one directory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.backends.filesystem import FilesystemBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore_file.host import FileBackend


class InteropError(Exception):
    """Raised on one side, rebuilt with its type on the other."""


@pytest.fixture
def app() -> Celery:
    app = Celery("interop", set_as_current=False)
    app.conf.result_expires = 3600
    return app


@pytest.fixture
def celery_fs(app: Celery, result_dir: Path) -> FilesystemBackend:
    return FilesystemBackend(app=app, url=f"file://{result_dir}")


@pytest.fixture
def ours(result_dir: Path) -> resultstore.ResultBackend:
    return resultstore.connect(f"file://{result_dir}", result_expires=3600)


def test_celery_writes_we_read(celery_fs: FilesystemBackend, ours: resultstore.ResultBackend) -> None:
    celery_fs.store_result("c-ok", {"n": [1, 2]}, states.SUCCESS)
    celery_fs.store_result("c-bad", InteropError("nope", 2), states.FAILURE, traceback="TB")
    celery_fs.store_result("c-started", {"pid": 1}, states.STARTED)
    ok, bad, started = (ours.get_task_meta(t) for t in ("c-ok", "c-bad", "c-started"))
    assert (ok["status"], ok["result"], ok["task_id"]) == (states.SUCCESS, {"n": [1, 2]}, "c-ok")
    assert type(bad["result"]) is InteropError and bad["result"].args == ("nope", 2)
    assert bad["traceback"] == "TB"
    assert started["status"] == states.STARTED
    assert set(ours.task_ids()) == {"c-ok", "c-bad", "c-started"}


def test_we_write_celery_reads(celery_fs: FilesystemBackend, ours: resultstore.ResultBackend) -> None:
    ours.mark_as_done("r-ok", ["a", 1.5])
    ours.mark_as_failure("r-bad", InteropError("boom"), traceback="TB2")
    ok, bad = celery_fs.get_task_meta("r-ok"), celery_fs.get_task_meta("r-bad")
    assert (ok["status"], ok["result"]) == (states.SUCCESS, ["a", 1.5])
    assert bad["status"] == states.FAILURE and type(bad["result"]) is InteropError
    assert bad["result"].args == ("boom",) and bad["traceback"] == "TB2"


def test_groups_both_ways(app: Celery, celery_fs: FilesystemBackend,
                          ours: resultstore.ResultBackend) -> None:
    group = GroupResult("g-celery", [app.AsyncResult("m1"), app.AsyncResult("m2")], app=app)
    celery_fs.save_group("g-celery", group)
    as_json = [["g-celery", None], [[["m1", None], None], [["m2", None], None]]]
    assert ours.get_group_meta("g-celery") == {"result": as_json}
    ours.save_group("g-ours", group.as_tuple())
    restored = celery_fs.restore_group("g-ours")
    assert [r.id for r in restored.results] == ["m1", "m2"]


def test_success_written_by_celery_is_kept(celery_fs: FilesystemBackend,
                                           ours: resultstore.ResultBackend) -> None:
    celery_fs.store_result("keep", 1, states.SUCCESS)
    ours.mark_as_failure("keep", InteropError("late duplicate"))
    assert celery_fs.get_task_meta("keep")["result"] == 1


def test_celery_cleanup_and_ours_coexist(celery_fs: FilesystemBackend,
                                         ours: resultstore.ResultBackend, result_dir: Path) -> None:
    ours.mark_as_done("fresh", 1)
    celery_fs.store_result("old", 2, states.SUCCESS)
    two_hours_ago = time.time() - 7200
    os.utime(result_dir / "celery-task-meta-old", (two_hours_ago, two_hours_ago))
    celery_fs.cleanup()  # Celery's own cleanup ignores our hidden side-channel
    assert ours.get_task_meta("fresh")["result"] == 1
    assert not (result_dir / "celery-task-meta-old").exists()
    celery_fs.store_result("old2", 3, states.SUCCESS)
    os.utime(result_dir / "celery-task-meta-old2", (two_hours_ago, two_hours_ago))
    assert ours.cleanup() == 1  # and ours applies Celery's rule to Celery's files
    assert celery_fs.get_task_meta("fresh")["result"] == 1


def test_celery_loads_our_class_from_the_entry_point(result_dir: Path) -> None:
    app = Celery("ep", backend=f"file://{result_dir}", set_as_current=False)
    backend: Any = app.backend
    assert type(backend) is FileBackend
    assert backend.as_uri() == f"file://{result_dir}"
