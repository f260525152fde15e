"""Cross-reads with Celery 5.7's own ``CosmosDBSQLBackend`` (pydocumentdb 2.3.5) on the same
account, both ways, and item layout identity.

Every request of Celery's side is its own: pydocumentdb's ``DocumentClient`` (account read,
``CreateDatabase``/``CreateCollection`` answered 409, ``ReadDocument``, ``UpsertDocument``,
``DeleteDocument``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery
from celery.backends.cosmosdbsql import CosmosDBSQLBackend as CeleryCosmosDBSQLBackend
from celery.result import GroupResult

import resultstore
from resultstore import states

MakeBackend = Callable[..., resultstore.ResultBackend]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def pair(open_cosmos: MakeBackend, cosmos_url: str,
         cosmos_settings: dict[str, Any]) -> tuple[CeleryCosmosDBSQLBackend, Any]:
    ours = open_cosmos(cosmos_url, cosmosdbsql_collection_name="interop")
    app = Celery("cosmos-interop", set_as_current=False)
    app.conf.update(cosmos_settings, cosmosdbsql_collection_name="interop")
    return CeleryCosmosDBSQLBackend(app=app, url=cosmos_url), ours


def test_celery_writes_resultstore_reads(pair: Any) -> None:
    celery, backend = pair
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


def test_resultstore_writes_celery_reads(pair: Any) -> None:
    celery, backend = pair
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
    celery.mark_as_done(started, 5)  # Celery's upsert over our item
    assert backend.get_task_meta(started, cache=False)["result"] == 5
    celery.forget(done)
    assert backend.get_task_meta(done, cache=False)["status"] == states.PENDING


def test_items_are_celerys(pair: Any) -> None:
    """Same task written by each side: the same item but for our ``ttl``."""
    celery, backend = pair
    theirs, mine = _uid(), _uid()
    celery.mark_as_failure(theirs, InteropError("x"), traceback="Traceback (most recent)")
    backend.mark_as_failure(mine, InteropError("x"), traceback="Traceback (most recent)")
    store = backend.store
    items = {t: store.read(f"celery-task-meta-{t}") for t in (theirs, mine)}
    assert {k for k in items[theirs] if not k.startswith("_")} == {"id", "value"}
    assert {k for k in items[mine] if not k.startswith("_")} == {"id", "value", "ttl"}
    assert items[mine]["id"] == f"celery-task-meta-{mine}"

    def comparable(task_id: str) -> Any:
        text = items[task_id]["value"]
        assert isinstance(text, str)
        return text.replace(task_id, "ID").split('"date_done"')[0]

    assert comparable(theirs) == comparable(mine)
