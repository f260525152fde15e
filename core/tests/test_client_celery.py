"""The client against Celery 5.7 itself: same API names, and each side reads what the other wrote.

Celery's own ``cache+memory://`` backend writes and reads its wire format; the raw
values are copied byte for byte between its cache and our store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

celery = pytest.importorskip("celery")
from celery import Celery  # noqa: E402
from celery import result as celery_result  # noqa: E402

import resultstore  # noqa: E402
from resultstore import AsyncResult, EagerResult, GroupResult, ResultSet  # noqa: E402
from resultstore.backend import ResultBackend  # noqa: E402


class InteropError(Exception):
    pass


@pytest.fixture
def app() -> Iterator[Any]:
    app = Celery("interop", set_as_current=False)
    # Celery's own class by path: an installed resultstore-cache takes over "cache+memory://".
    app.conf.result_backend = "celery.backends.cache:CacheBackend"
    app.conf.cache_backend = "memory://"
    yield app
    app.close()


@pytest.fixture
def ours() -> ResultBackend:
    return resultstore.connect(f"memory://interop-{uuid.uuid4()}")


def _key(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def celery_to_ours(app: Any, ours: ResultBackend, key: Any) -> None:
    raw = app.backend.get(key)
    assert raw is not None
    ours.store.set(_key(key), raw if isinstance(raw, bytes) else raw.encode(), None)  # type: ignore[union-attr]


def ours_to_celery(app: Any, ours: ResultBackend, key: str) -> None:
    raw = ours.store.get(key)  # type: ignore[union-attr]
    assert raw is not None
    app.backend.set(key.encode(), raw.decode())


def test_group_saved_by_celery_restores_here(app: Any, ours: ResultBackend) -> None:
    C = celery_result
    group = C.GroupResult("g-" + uuid.uuid4().hex, [
        app.AsyncResult("t1"),
        app.AsyncResult("t2", parent=app.AsyncResult("p0")),
        C.GroupResult("inner", [app.AsyncResult("x1")], app=app),
    ], parent=app.AsyncResult("gp"), app=app)
    group.save(backend=app.backend)
    celery_to_ours(app, ours, app.backend.get_key_for_group(group.id))
    restored = GroupResult.restore(group.id, ours)
    assert restored is not None
    assert restored.as_tuple() == group.as_tuple()
    assert isinstance(restored.results[2], GroupResult) and restored.parent == "gp"
    assert restored.results[1].parent == "p0"


def test_group_saved_here_restores_in_celery(app: Any, ours: ResultBackend) -> None:
    group = GroupResult("g-" + uuid.uuid4().hex, [
        AsyncResult("t1", ours, parent=AsyncResult("p0", ours)),
        GroupResult("inner", [AsyncResult("x1", ours)], backend=ours),
    ], parent=AsyncResult("gp", ours), backend=ours)
    group.save()
    assert group.id is not None
    ours_to_celery(app, ours, ours.keys.group(group.id))
    restored = celery_result.GroupResult.restore(group.id, backend=app.backend, app=app)
    assert restored.as_tuple() == group.as_tuple()
    assert isinstance(restored.results[1], celery_result.GroupResult)


def test_children_and_failures_written_by_celery(app: Any, ours: ResultBackend) -> None:
    parent_id, failed_id = uuid.uuid4().hex, uuid.uuid4().hex
    request = SimpleNamespace(children=[app.AsyncResult("c1"), celery_result.GroupResult(
        "cg", [app.AsyncResult("c2")], app=app)], group=None, parent_id=None, ignore_result=False,
        chord=None, errbacks=None, chain=None, delivery_info=None)
    app.backend.mark_as_done(parent_id, 7, request=request)
    app.backend.mark_as_failure(failed_id, InteropError("from celery", 1))
    for task_id in (parent_id, failed_id):
        celery_to_ours(app, ours, app.backend.get_key_for_task(task_id))
    r = AsyncResult(parent_id, ours)
    assert r.get(timeout=5) == 7
    assert r.children == ["c1", "cg"] and isinstance(r.children[1], GroupResult)  # type: ignore[index]
    with pytest.raises(InteropError) as info:
        AsyncResult(failed_id, ours).get(timeout=5)
    assert info.value.args == ("from celery", 1)


def test_results_written_here_read_by_celery(app: Any, ours: ResultBackend) -> None:
    ok, failed = uuid.uuid4().hex, uuid.uuid4().hex
    ours.mark_as_done(ok, {"n": 1})
    ours.mark_as_failure(failed, InteropError("from resultstore"))
    for task_id in (ok, failed):
        ours_to_celery(app, ours, ours.keys.task(task_id))
    assert app.AsyncResult(ok).get(timeout=5) == {"n": 1}
    with pytest.raises(InteropError, match="from resultstore"):
        app.AsyncResult(failed).get(timeout=5)


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


#: Celery names that need Celery itself (app, worker control, vine promises).
CELERY_ONLY = {"app", "revoke_by_stamped_headers", "throw", "on_ready", "backend"}


@pytest.mark.parametrize("kind", ["AsyncResult", "ResultSet", "GroupResult", "EagerResult"])
def test_every_celery_name_exists_here(kind: str, app: Any, ours: ResultBackend) -> None:
    theirs = {"AsyncResult": lambda: app.AsyncResult("t"),
              "ResultSet": lambda: celery_result.ResultSet([app.AsyncResult("t")], app=app),
              "GroupResult": lambda: celery_result.GroupResult("g", [app.AsyncResult("t")], app=app),
              "EagerResult": lambda: celery_result.EagerResult("t", 1, "SUCCESS")}[kind]()
    mine = {"AsyncResult": lambda: AsyncResult("t", ours),
            "ResultSet": lambda: ResultSet([AsyncResult("t", ours)]),
            "GroupResult": lambda: GroupResult("g", [AsyncResult("t", ours)]),
            "EagerResult": lambda: EagerResult("t", 1, "SUCCESS")}[kind]()
    missing = _public(type(theirs)) - CELERY_ONLY - _public(mine)
    assert not missing, f"{kind} lacks {sorted(missing)}"


def test_equality_and_hash_match_celery(app: Any, ours: ResultBackend) -> None:
    theirs, mine = app.AsyncResult("same"), AsyncResult("same", ours)
    assert (mine == "same", hash(mine), str(mine), mine.as_tuple()) == (
        theirs == "same", hash(theirs), str(theirs), theirs.as_tuple())
    tg = celery_result.GroupResult("g", [theirs], app=app)
    mg = GroupResult("g", [mine], backend=ours)
    assert (hash(mg), mg == "g", mg.as_tuple(), bool(mg)) == (hash(tg), tg == "g", tg.as_tuple(), bool(tg))
    te, me = celery_result.EagerResult("e", 1, "SUCCESS"), EagerResult("e", 1, "SUCCESS")
    te.revoke()
    me.revoke()
    assert (me.state, type(me.result).__name__) == (te.state, type(te.result).__name__)


@pytest.mark.parametrize(("kind", "method"), [
    ("AsyncResult", "get"), ("AsyncResult", "maybe_throw"), ("AsyncResult", "collect"),
    ("AsyncResult", "iterdeps"), ("AsyncResult", "build_graph"), ("AsyncResult", "revoke"),
    ("AsyncResult", "then"), ("ResultSet", "get"), ("ResultSet", "join"),
    ("ResultSet", "join_native"), ("ResultSet", "iter_native"), ("ResultSet", "revoke"),
    ("GroupResult", "save"), ("GroupResult", "delete"), ("EagerResult", "get"),
])
def test_positional_parameters_match_celery(kind: str, method: str) -> None:
    import inspect

    theirs = [p for p in inspect.signature(getattr(getattr(celery_result, kind), method)).parameters
              if p not in {"self", "EXCEPTION_STATES", "PROPAGATE_STATES", "kwargs"}]
    mine = {"AsyncResult": AsyncResult, "ResultSet": ResultSet, "GroupResult": GroupResult,
            "EagerResult": EagerResult}[kind]
    ours_params = [p for p in inspect.signature(getattr(mine, method)).parameters
                   if p not in {"self", "kwargs"}]
    assert ours_params[:len(theirs)] == theirs
