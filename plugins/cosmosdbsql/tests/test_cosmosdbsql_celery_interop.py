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

import resultstore
from resultstore import states
from resultstore.testing.crossread import InteropError, celery_writes_we_read, we_write_celery_reads

MakeBackend = Callable[..., resultstore.ResultBackend]


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
    celery_writes_we_read(celery, backend)


def test_resultstore_writes_celery_reads(pair: Any) -> None:
    celery, backend = pair
    done, _, started = we_write_celery_reads(celery, backend)
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
