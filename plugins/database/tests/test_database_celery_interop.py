"""Rows cross-read both ways with Celery 5.7's own DatabaseBackend on the same database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from celery import Celery
from celery.app.task import Context
from celery.backends.database import DatabaseBackend as CeleryDatabaseBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore_database.tables import build_tables

MakeBackend = Callable[..., resultstore.ResultBackend]
BLOB_COLUMNS = ("status", "result", "traceback", "children", "name", "args", "kwargs", "worker",
                "retries", "queue", "stamps")


class InteropError(Exception):
    """Raised by neither side; both must rebuild it by module and name."""


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
def celery_backend(db_url: str) -> Iterator[Callable[..., CeleryDatabaseBackend]]:
    made: list[CeleryDatabaseBackend] = []

    def make(**conf: Any) -> CeleryDatabaseBackend:
        app = Celery(f"interop-{uuid.uuid4().hex[:6]}", set_as_current=False)
        app.conf.update(conf)
        backend = CeleryDatabaseBackend(app=app, url=db_url)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.session_manager.invalidate(backend.url)


@pytest.fixture
def ours(open_backend: MakeBackend, db_url: str) -> MakeBackend:
    return lambda **settings: open_backend(f"db+{db_url}", **settings)


def _request(app: Celery, task_id: str) -> Context:
    request = Context(id=task_id, task="proj.add", args=[2, 3], kwargs={"z": 1},
                      hostname="w1@host", retries=2, delivery_info={"routing_key": "celery"},
                      parent_id="p-1", stamps={"stamp": "s1"}, stamped_headers=["stamp"],
                      ignore_result=False)
    request.children.append(app.AsyncResult("child-1"))  # a property: not a constructor kwarg
    return request


def _raw_row(url: str, task_id: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    task = build_tables().task
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(task).where(task.c.task_id == task_id)).mappings().one()
            return dict(row)
    finally:
        engine.dispose()


def test_celery_writes_resultstore_reads(celery_backend: Callable[..., CeleryDatabaseBackend],
                                         ours: MakeBackend) -> None:
    celery = celery_backend(result_extended=True)
    reader = ours(result_extended=True)
    done, failed, started = (str(uuid.uuid4()) for _ in range(3))
    celery.store_result(done, {"v": [1, "x"]}, states.SUCCESS, request=_request(celery.app, done))
    celery.mark_as_failure(failed, InteropError("boom", 7), traceback="Traceback ...")
    celery.store_result(started, {"pid": 9}, states.STARTED)

    meta = reader.get_task_meta(done)
    assert {k: meta[k] for k in ("status", "result", "traceback", "children", "name", "args",
                                 "kwargs", "worker", "retries", "queue", "stamped_headers",
                                 "stamp")} == {
        "status": "SUCCESS", "result": {"v": [1, "x"]}, "traceback": None,
        "children": [[["child-1", None], None]], "name": "proj.add", "args": [2, 3],
        "kwargs": {"z": 1}, "worker": "w1@host", "retries": 2, "queue": "celery",
        "stamped_headers": ["stamp"], "stamp": "s1"}
    age = datetime.now(timezone.utc) - datetime.fromisoformat(meta["date_done"])
    assert timedelta(0) <= age < timedelta(minutes=1)

    meta = reader.get_task_meta(failed)
    assert meta["status"] == states.FAILURE and type(meta["result"]) is InteropError
    assert meta["result"].args == ("boom", 7) and meta["traceback"] == "Traceback ..."
    meta = reader.get_task_meta(started)
    assert (meta["status"], meta["result"], meta["date_done"]) == ("STARTED", {"pid": 9}, None)
    # a stored SUCCESS stays, whoever wrote it
    reader.mark_as_failure(done, ValueError("late"))
    assert reader.get_task_meta(done, cache=False)["result"] == {"v": [1, "x"]}


def test_resultstore_writes_celery_reads(celery_backend: Callable[..., CeleryDatabaseBackend],
                                         ours: MakeBackend) -> None:
    writer = ours(result_extended=True)
    celery = celery_backend(result_extended=True)
    done, failed = str(uuid.uuid4()), str(uuid.uuid4())
    writer.mark_as_done(done, {"v": [1, "x"]}, request=_request(celery.app, done))
    writer.mark_as_failure(failed, InteropError("boom", 7), traceback="tb")

    meta = celery.get_task_meta(done)
    assert {k: meta[k] for k in ("status", "result", "traceback", "children", "name", "args",
                                 "kwargs", "worker", "retries", "queue", "stamped_headers",
                                 "stamp")} == {
        "status": "SUCCESS", "result": {"v": [1, "x"]}, "traceback": None,
        "children": [[["child-1", None], None]], "name": "proj.add", "args": [2, 3],
        "kwargs": {"z": 1}, "worker": "w1@host", "retries": 2, "queue": "celery",
        "stamped_headers": ["stamp"], "stamp": "s1"}
    assert isinstance(meta["date_done"], datetime)
    meta = celery.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 7)
    # Celery keeps our SUCCESS too
    celery.mark_as_failure(done, ValueError("late"))
    assert celery.get_task_meta(done)["status"] == states.SUCCESS


def test_rows_are_byte_identical(celery_backend: Callable[..., CeleryDatabaseBackend],
                                 ours: MakeBackend, db_url: str) -> None:
    celery = celery_backend(result_extended=True)
    writer = ours(result_extended=True)
    by_celery, by_us = str(uuid.uuid4()), str(uuid.uuid4())
    for task_id, backend in ((by_celery, celery), (by_us, writer)):
        backend.store_result(task_id, {"n": 1.5, "s": "ż"}, states.SUCCESS,
                             request=_request(celery.app, task_id))
    celery_row, our_row = _raw_row(db_url, by_celery), _raw_row(db_url, by_us)
    assert {c: celery_row[c] for c in BLOB_COLUMNS} == {c: our_row[c] for c in BLOB_COLUMNS}
    assert abs(celery_row["date_done"] - our_row["date_done"]) < timedelta(seconds=30)
    assert (our_row["parent_id"], celery_row["parent_id"]) == ("p-1", None)


def test_groups_cross_read(celery_backend: Callable[..., CeleryDatabaseBackend],
                           ours: MakeBackend) -> None:
    celery = celery_backend()
    backend = ours()
    gid, gid2 = str(uuid.uuid4()), str(uuid.uuid4())
    group = GroupResult(gid, [celery.app.AsyncResult("t1"), celery.app.AsyncResult("t2")],
                        app=celery.app)
    celery.save_group(gid, group)
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None],
                                                                   [["t2", None], None]]]}
    backend.save_group(gid2, [[gid2, None], [[["t3", None], None]]])
    restored = celery.restore_group(gid2)
    assert restored is not None and [r.id for r in restored.results] == ["t3"]
    celery.delete_group(gid2)
    assert backend.get_group_meta(gid2) is None


def test_compressed_results_read_by_celery(celery_backend: Callable[..., CeleryDatabaseBackend],
                                           ours: MakeBackend) -> None:
    writer = ours(result_compression="gzip")
    task_id = str(uuid.uuid4())
    writer.mark_as_done(task_id, "z" * 10000)
    assert celery_backend().get_task_meta(task_id)["result"] == "z" * 10000


def test_forget_and_cleanup_interoperate(celery_backend: Callable[..., CeleryDatabaseBackend],
                                         ours: MakeBackend) -> None:
    celery = celery_backend(result_expires=1)
    backend = ours(result_expires=1)
    old, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    celery.mark_as_done(old, 1)
    engine = celery.session_manager.get_engine(celery.url)
    task = build_tables().task
    with engine.begin() as conn:  # age the row instead of sleeping
        conn.execute(sa.update(task).where(task.c.task_id == old)
                     .values(date_done=datetime.now(timezone.utc).replace(tzinfo=None)
                             - timedelta(minutes=5)))
    celery.mark_as_done(fresh, 2)
    assert backend.cleanup() >= 1
    assert celery.get_task_meta(old)["status"] == states.PENDING
    assert celery.get_task_meta(fresh)["status"] == states.SUCCESS
    backend.forget(fresh)
    assert celery.get_task_meta(fresh)["status"] == states.PENDING
