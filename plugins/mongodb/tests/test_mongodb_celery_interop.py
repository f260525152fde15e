"""Cross-reads with Celery 5.7's own MongoBackend, both ways, and identical documents.

On the stand-in both backends open the same mongomock server through ``pymongo.MongoClient``
(patched), so what is compared is what each side writes and reads, field by field.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from celery import Celery
from celery.app.backends import by_url
from celery.backends.mongodb import MongoBackend as CeleryMongoBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore_mongodb import MongoStore
from resultstore_mongodb.host import MongoBackend

MakeBackend = Callable[..., resultstore.ResultBackend]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


def _uid() -> str:
    return str(uuid.uuid4())


def _celery(url: str, **conf: Any) -> CeleryMongoBackend:
    app = Celery("mongo-interop", set_as_current=False)
    app.conf.update(conf)
    return CeleryMongoBackend(app=app, url=url)


@pytest.fixture
def ours(open_mongodb: MakeBackend, mongodb_url: str) -> MakeBackend:
    return functools.partial(open_mongodb, mongodb_url)


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_celery_writes_resultstore_reads(ours: MakeBackend, mongodb_url: str, serializer: str) -> None:
    accept = {"result_serializer": serializer, "result_accept_content": [serializer]}
    celery_side = _celery(mongodb_url, **accept)
    backend = ours(**accept)
    done, failed, gid = _uid(), "zażółć-" + _uid(), _uid()
    celery_side.mark_as_done(done, {"v": [1, "ż"]})
    celery_side.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    celery_side.save_group(gid, GroupResult(gid, [celery_side.app.AsyncResult("t1")],
                                            app=celery_side.app))
    meta = backend.get_task_meta(done)
    assert (meta["status"], meta["result"], meta["task_id"]) == (states.SUCCESS, {"v": [1, "ż"]}, done)
    assert datetime.fromisoformat(meta["date_done"]).tzinfo is not None
    meta = backend.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["traceback"] == "tb"
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None]]]}
    assert [m["status"] for m in backend.get_many([done, failed]).values()] == ["SUCCESS", "FAILURE"]
    backend.mark_as_failure(done, ValueError("late"))  # Celery's SUCCESS is kept
    assert celery_side.get_task_meta(done)["status"] == states.SUCCESS


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_resultstore_writes_celery_reads(ours: MakeBackend, mongodb_url: str, serializer: str) -> None:
    accept = {"result_serializer": serializer, "result_accept_content": [serializer]}
    celery_side = _celery(mongodb_url, **accept)
    backend = ours(**accept)
    done, failed, gid = _uid(), "zażółć-" + _uid(), _uid()
    backend.mark_as_done(done, {"v": [1, "ż"]})
    backend.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    backend.save_group(gid, [[gid, None], [[["t9", None], None], [["t8", [["p", None], None]], None]]])
    meta = celery_side.get_task_meta(done)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, {"v": [1, "ż"]})
    assert isinstance(meta["date_done"], datetime)
    meta = celery_side.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 2)
    # Celery 5.7's MongoBackend.restore_group returns the member list (not a GroupResult)
    assert [r.id for r in celery_side.restore_group(gid)] == ["t9", "t8"]
    celery_side.mark_as_failure(done, ValueError("late"))  # our SUCCESS is kept by Celery too
    assert backend.get_task_meta(done, cache=False)["status"] == states.SUCCESS
    backend.forget(done)
    assert celery_side.get_task_meta(done)["status"] == states.PENDING


def _request(**extra: Any) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(task="proj.add", args=[2, 3], kwargs={"z": 1}, hostname="w1@host",
                           retries=1, delivery_info={"routing_key": "celery"}, group="g-1",
                           parent_id="p-1", children=[], ignore_result=False, chord=None,
                           chain=None, errbacks=None, **extra)


@pytest.mark.parametrize("serializer", ["json", "pickle"])
@pytest.mark.parametrize("extended", [False, True])
def test_documents_are_celerys(ours: MakeBackend, mongodb_url: str, serializer: str,
                               extended: bool) -> None:
    """Same fields, order, types and encoded ``result`` as Celery's, state by state."""
    conf = {"result_serializer": serializer, "result_accept_content": [serializer],
            "result_extended": extended}
    celery_side = _celery(mongodb_url, **conf)
    backend = ours(**conf)
    store = backend.store
    assert isinstance(store, MongoStore)
    for write in (
        lambda b, t: b.mark_as_done(t, {"n": [1, 2.5]}, request=_request()),
        lambda b, t: b.mark_as_failure(t, InteropError("x", 1), traceback="tb"),
        lambda b, t: b.store_result(t, {"pid": 3}, states.STARTED, request=_request()),
        *([] if serializer == "pickle" else [lambda b, t: b.mark_as_revoked(t, "because")]),
    ):
        theirs, mine = _uid(), _uid()
        write(celery_side, theirs)
        write(backend, mine)
        doc_theirs = store.tasks.find_one({"_id": theirs})
        doc_mine = store.tasks.find_one({"_id": mine})
        assert list(doc_mine) == list(doc_theirs)
        for doc in (doc_theirs, doc_mine):
            doc.pop("_id")
            if doc["date_done"] is not None:
                assert isinstance(doc["date_done"], datetime)
                doc["date_done"] = "D"
        if serializer == "pickle":  # pickled bytes differ in memo details; compare what they hold
            import pickle

            for doc in (doc_theirs, doc_mine):
                assert isinstance(doc["result"], bytes)
                value = pickle.loads(doc["result"])
                doc["result"] = repr(value) if isinstance(value, BaseException) else value
        assert doc_mine == doc_theirs


def test_pickled_revoked_is_celerys(ours: MakeBackend, mongodb_url: str) -> None:
    conf = {"result_serializer": "pickle", "result_accept_content": ["pickle"]}
    celery_side, backend = _celery(mongodb_url, **conf), ours(**conf)
    task_id = _uid()
    backend.mark_as_revoked(task_id, "because")
    assert type(celery_side.get_task_meta(task_id)["result"]).__name__ == "TaskRevokedError"


@pytest.fixture
def kombu_bson() -> Iterator[None]:
    """Celery 5.7 only runs ``result_serializer='bson'`` once kombu knows the name (it has no
    ``bson`` serializer of its own: ``KeyError: 'bson'``); its MongoBackend then stores the
    value itself."""
    import bson
    from kombu.serialization import register, registry

    register("bson", lambda o: bson.encode({"v": o}), lambda b: bson.decode(b)["v"],
             content_type="application/bson", content_encoding="binary")
    try:
        yield
    finally:
        registry.unregister("bson")


def test_bson_results_are_native_values_both_ways(ours: MakeBackend, mongodb_url: str,
                                                  kombu_bson: None) -> None:
    conf = {"result_serializer": "bson", "result_accept_content": ["bson"]}
    celery_side, backend = _celery(mongodb_url, **conf), ours(**conf)
    store = backend.store
    assert isinstance(store, MongoStore)
    theirs, mine, failed = _uid(), _uid(), _uid()
    celery_side.mark_as_done(theirs, {"n": [1, 2.5, "ż"]})
    backend.mark_as_done(mine, {"n": [1, 2.5, "ż"]})
    backend.mark_as_failure(failed, InteropError("x", 1))
    assert backend.get_task_meta(theirs)["result"] == {"n": [1, 2.5, "ż"]}
    assert celery_side.get_task_meta(mine)["result"] == {"n": [1, 2.5, "ż"]}
    assert type(celery_side.get_task_meta(failed)["result"]) is InteropError
    doc_theirs, doc_mine = (store.tasks.find_one({"_id": t}) for t in (theirs, mine))
    assert doc_theirs["result"] == doc_mine["result"] == {"n": [1, 2.5, "ż"]}
    assert list(doc_theirs) == list(doc_mine)
    group_id = _uid()
    backend.save_group(group_id, [[group_id, None], [[["a", None], None]]])
    assert store.groups.find_one({"_id": group_id})["result"] == ["a"]
    assert [r.id for r in celery_side.restore_group(group_id)] == ["a"]
    backend.set_chord_size(group_id, 1)
    parts = backend.chord_part_return(group_id, "a", 0, states.SUCCESS, {"k": 1})
    assert parts is not None and parts[0].result == {"k": 1}


def test_group_documents_are_celerys(ours: MakeBackend, mongodb_url: str) -> None:
    celery_side = _celery(mongodb_url)
    backend = ours()
    store = backend.store
    assert isinstance(store, MongoStore)
    theirs, mine = _uid(), _uid()
    celery_side.save_group(theirs, GroupResult(theirs, [celery_side.app.AsyncResult("a"),
                                                        celery_side.app.AsyncResult("b")]))
    backend.save_group(mine, [[mine, None], [[["a", None], None], [["b", None], None]]])
    doc_theirs, doc_mine = (store.groups.find_one({"_id": g}) for g in (theirs, mine))
    assert doc_theirs["result"] == doc_mine["result"] == '["a", "b"]'
    assert set(doc_mine) - set(doc_theirs) == {"members"}
    assert isinstance(doc_mine["date_done"], datetime)


def test_celery_loads_the_host_class(mongodb_url: str) -> None:
    app = Celery("hosted", set_as_current=False)
    cls, url = by_url(mongodb_url, app.loader)
    assert cls is MongoBackend and url == mongodb_url
    host = MongoBackend(app=app, url=url)
    assert isinstance(host.backend.store, MongoStore)
    assert host.supports_autoexpire is False  # Celery's beat still schedules cleanup, as for Celery's
    host.backend.close()
    cls, url = by_url("mongodb+srv://u:p@cluster.example.net/db", app.loader)
    assert cls is MongoBackend and url == "srv://u:p@cluster.example.net/db"  # Celery's split
