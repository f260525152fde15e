"""Cross-reads with Celery's own backend class on the same storage, both ways.

``celery`` is an instance of Celery's backend class, ``backend`` ours, both on the same
place; a plugin's interop tests call these, then check what is theirs alone.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import states
from ..backend import ResultBackend

__all__ = ["InteropError", "celery_writes_we_read", "we_write_celery_reads"]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


def _uid() -> str:
    return str(uuid.uuid4())


def celery_writes_we_read(celery: Any, backend: ResultBackend) -> None:
    """Celery writes a SUCCESS, a FAILURE and a group; we read them (one by one and many),
    keep Celery's SUCCESS against a late FAILURE, and forget so that Celery reads PENDING."""
    from celery.result import GroupResult

    done, failed, gid = _uid(), _uid(), _uid()
    celery.mark_as_done(done, {"v": [1, "ż"]})
    celery.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    celery.save_group(gid, GroupResult(gid, [celery.app.AsyncResult("t1")], app=celery.app))
    assert backend.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = backend.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["traceback"] == "tb"
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None]]]}
    assert [m["status"] for m in backend.get_many([done, failed]).values()] == [
        "SUCCESS", "FAILURE"]
    backend.mark_as_failure(done, ValueError("late"))  # Celery's SUCCESS is kept
    assert celery.get_task_meta(done)["status"] == states.SUCCESS
    backend.forget(failed)
    assert celery.get_task_meta(failed)["status"] == states.PENDING


def we_write_celery_reads(celery: Any, backend: ResultBackend) -> tuple[str, str, str]:
    """We write a SUCCESS, a FAILURE, a STARTED and a group; Celery reads each of them.
    Returns the ids ``(done, failed, started)`` for the caller's further checks."""
    done, failed, started, gid = _uid(), _uid(), _uid(), _uid()
    backend.mark_as_done(done, {"v": [1, "ż"]})
    backend.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    backend.mark_as_started(started, pid=4)
    backend.save_group(gid, [[gid, None], [[["t9", None], None]]])
    assert celery.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = celery.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 2)
    assert meta["traceback"] == "tb"
    assert celery.get_task_meta(started)["result"] == {"pid": 4}
    assert [r.id for r in celery.restore_group(gid).results] == ["t9"]
    return done, failed, started
