"""Rows cross-read both ways with Celery 5.7's own CassandraBackend on the same table.

On the stand-in, Celery's backend runs on the same patched ``cassandra.cluster.Cluster``
(its SimpleStatements with ``%s`` parameters, ours prepared), so the rows compared below are
the ones both sides wrote through the driver's API.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cassandra_helpers import celery_conf, raw_rows
from celery import Celery
from celery.backends.cassandra import CassandraBackend as CeleryCassandraBackend
from celery.backends.cassandra import buf_t

import resultstore
from resultstore import states

MakeBackend = Callable[..., resultstore.ResultBackend]
CeleryMaker = Callable[..., CeleryCassandraBackend]
BLOBS = ("status", "result", "traceback", "children")


class InteropError(Exception):
    """Raised by neither side; both must rebuild it by module and name."""


@pytest.fixture
def celery_backend(fresh_url: str) -> Iterator[CeleryMaker]:
    made: list[CeleryCassandraBackend] = []

    def make(**conf: Any) -> CeleryCassandraBackend:
        app = Celery(f"interop-{uuid.uuid4().hex[:6]}", set_as_current=False)
        app.conf.update(celery_conf(fresh_url, **conf))
        backend = CeleryCassandraBackend(app=app)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        if backend._cluster is not None:
            backend._cluster.shutdown()


@pytest.fixture
def ours(open_backend: MakeBackend, fresh_url: str) -> MakeBackend:
    return lambda **settings: open_backend(fresh_url, **settings)


def _uid() -> str:
    return str(uuid.uuid4())


def test_celery_creates_the_table_and_writes_resultstore_reads(celery_backend: CeleryMaker,
                                                                ours: MakeBackend) -> None:
    celery = celery_backend()
    done, failed, started = _uid(), _uid(), _uid()
    celery.store_result(done, {"v": [1, "x"]}, states.SUCCESS)  # Celery's CREATE TABLE runs here
    celery.mark_as_failure(failed, InteropError("boom", 7), traceback="Traceback ...")
    celery.store_result(started, {"pid": 9}, states.STARTED)
    reader = ours()  # adds resultstore's nullable columns to Celery's table

    meta = reader.get_task_meta(done)
    assert (meta["status"], meta["result"], meta["traceback"]) == ("SUCCESS", {"v": [1, "x"]}, None)
    age = datetime.now(timezone.utc) - datetime.fromisoformat(meta["date_done"])
    assert timedelta(0) <= age < timedelta(minutes=1)
    meta = reader.get_task_meta(failed)
    assert meta["status"] == states.FAILURE and type(meta["result"]) is InteropError
    assert meta["result"].args == ("boom", 7) and meta["traceback"] == "Traceback ..."
    meta = reader.get_task_meta(started)
    assert (meta["status"], meta["result"], meta["date_done"]) == ("STARTED", {"pid": 9}, None)
    assert list(reader.get_many([done, failed, started])) == [done, failed, started]
    # Celery still reads its table after resultstore's columns were added
    assert celery.get_task_meta(done)["result"] == {"v": [1, "x"]}


def test_resultstore_creates_the_table_and_writes_celery_reads(celery_backend: CeleryMaker,
                                                                ours: MakeBackend) -> None:
    writer = ours(result_extended=True)
    done, failed = _uid(), _uid()
    writer.mark_as_done(done, {"v": [1, "x"]})
    writer.mark_as_failure(failed, InteropError("boom", 7), traceback="tb")
    celery = celery_backend()  # its CREATE TABLE meets AlreadyExists, as on a real server

    meta = celery.get_task_meta(done)
    assert (meta["status"], meta["result"], meta["traceback"]) == ("SUCCESS", {"v": [1, "x"]}, None)
    assert isinstance(meta["date_done"], datetime)
    meta = celery.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 7)
    assert meta["traceback"] == "tb"
    # Celery's read-before-write keeps our SUCCESS
    celery.mark_as_failure(done, ValueError("late"))
    assert celery.get_task_meta(done)["status"] == states.SUCCESS


def test_rows_are_byte_identical(celery_backend: CeleryMaker, ours: MakeBackend,
                                 fresh_url: str) -> None:
    celery = celery_backend()
    writer = ours()
    by_celery, by_us = _uid(), _uid()
    for task_id, backend in ((by_celery, celery), (by_us, writer)):
        backend.store_result(task_id, {"n": 1.5, "s": "ż"}, states.SUCCESS)
        backend.mark_as_failure(_uid(), InteropError("x"))
    (celery_row,), (our_row,) = raw_rows(fresh_url, by_celery), raw_rows(fresh_url, by_us)
    assert {c: celery_row[c] for c in BLOBS} == {c: our_row[c] for c in BLOBS}
    assert abs(celery_row["date_done"] - our_row["date_done"]) < timedelta(seconds=30)


def test_failure_rows_are_byte_identical(celery_backend: CeleryMaker, ours: MakeBackend,
                                         fresh_url: str) -> None:
    celery, writer = celery_backend(), ours()
    by_celery, by_us = _uid(), _uid()
    celery.mark_as_failure(by_celery, InteropError("x", 1), traceback="tb")
    writer.mark_as_failure(by_us, InteropError("x", 1), traceback="tb")
    (celery_row,), (our_row,) = raw_rows(fresh_url, by_celery), raw_rows(fresh_url, by_us)
    assert {c: celery_row[c] for c in BLOBS} == {c: our_row[c] for c in BLOBS}


def test_a_late_celery_failure_row_does_not_hide_our_success(ours: MakeBackend,
                                                             celery_backend: CeleryMaker,
                                                             fresh_url: str) -> None:
    """Celery's read-then-write race: its late FAILURE lands as a newer row after a SUCCESS.
    Celery readers then see FAILURE (newest row); resultstore readers keep the SUCCESS."""
    backend, task_id = ours(), _uid()
    celery = celery_backend()
    celery.store_result(task_id, "ok", states.SUCCESS)
    celery._session.execute(celery._write_stmt, (  # what the race leaves: a newer FAILURE row
        task_id, states.FAILURE, buf_t(celery.encode({"exc_type": "ValueError", "exc_module": "builtins",
                                                       "exc_message": ["late"]})),
        celery.app.now() + timedelta(seconds=1), buf_t(celery.encode(None)), buf_t(celery.encode(None))))
    assert [r["status"] for r in raw_rows(fresh_url, task_id)] == ["FAILURE", "SUCCESS"]
    assert celery.get_task_meta(task_id)["status"] == states.FAILURE
    assert backend.get_task_meta(task_id)["result"] == "ok"


def test_compressed_results_read_by_celery(celery_backend: CeleryMaker, ours: MakeBackend) -> None:
    writer = ours(result_compression="gzip")
    task_id = _uid()
    writer.mark_as_done(task_id, "z" * 10000)
    assert celery_backend().get_task_meta(task_id)["result"] == "z" * 10000


def test_forget_interoperates(celery_backend: CeleryMaker, ours: MakeBackend) -> None:
    celery, backend = celery_backend(), ours()
    mine, theirs = _uid(), _uid()
    backend.mark_as_done(mine, 1)
    celery.mark_as_done(theirs, 2)
    celery.forget(mine)
    backend.forget(theirs)
    assert backend.get_task_meta(mine)["status"] == states.PENDING
    assert celery.get_task_meta(theirs)["status"] == states.PENDING


def test_entry_ttl_is_celerys_using_ttl(celery_backend: CeleryMaker, ours: MakeBackend,
                                        only_standin: Any, fresh_url: str) -> None:
    celery = celery_backend(cassandra_entry_ttl=60)
    backend = ours(cassandra_entry_ttl=60, result_expires=5)
    by_celery, by_us = _uid(), _uid()
    celery.mark_as_done(by_celery, 1)
    backend.mark_as_done(by_us, 2)
    only_standin.clock_offset += 61
    try:
        assert backend.get_task_meta(by_celery)["status"] == states.PENDING
        assert celery.get_task_meta(by_us)["status"] == states.PENDING
    finally:
        only_standin.clock_offset -= 61
