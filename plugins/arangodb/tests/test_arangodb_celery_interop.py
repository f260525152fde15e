"""Cross-reads with Celery 5.7's own ``ArangoDbBackend`` (pyArango) on the same server, both
ways, and document layout identity.

Every request of Celery's side is its own: pyArango's connection and Celery's AQL (an
``UPSERT`` to write, ``DOCUMENT()`` to read one or many, ``REMOVE`` to forget).  On the
stand-in, those queries are answered by recognising their exact text (it is no AQL engine).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery
from celery.backends.arangodb import ArangoDbBackend as CeleryArangoDbBackend

import resultstore
from resultstore import states
from resultstore.testing.crossread import InteropError, celery_writes_we_read, we_write_celery_reads

MakeBackend = Callable[..., resultstore.ResultBackend]


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def pair(open_arango: MakeBackend, arango_url: str) -> tuple[CeleryArangoDbBackend, Any]:
    url = arango_url + "/interop"
    ours = open_arango(url)
    ours.get_task_meta("setup")  # creates the database and collection (Celery's needs both)
    app = Celery("arango-interop", set_as_current=False)
    return CeleryArangoDbBackend(app=app, url=url), ours


def test_celery_writes_resultstore_reads(pair: Any) -> None:
    celery, backend = pair
    celery_writes_we_read(celery, backend)


def test_resultstore_writes_celery_reads(pair: Any) -> None:
    celery, backend = pair
    done, failed, started = we_write_celery_reads(celery, backend)
    keys = [celery.get_key_for_task(t) for t in (done, failed, _uid())]
    assert [v is not None for v in celery.mget(keys)] == [True, True, False]
    celery.mark_as_done(started, 5)  # Celery's UPSERT over our document
    assert backend.get_task_meta(started, cache=False)["result"] == 5
    celery.forget(done)
    assert backend.get_task_meta(done, cache=False)["status"] == states.PENDING


def test_documents_are_celerys(pair: Any) -> None:
    """Same task written by each side: the same document but for our ``expires_at``."""
    celery, backend = pair
    theirs, mine = _uid(), _uid()
    celery.mark_as_failure(theirs, InteropError("x"), traceback="Traceback (most recent)")
    backend.mark_as_failure(mine, InteropError("x"), traceback="Traceback (most recent)")
    store = backend.store
    docs = {t: store.get_document(f"celery-task-meta-{t}") for t in (theirs, mine)}
    assert set(docs[theirs]) == {"_key", "_id", "_rev", "task"}
    assert set(docs[mine]) == {"_key", "_id", "_rev", "task", "expires_at"}
    assert docs[mine]["_key"] == f"celery-task-meta-{mine}"

    def comparable(task_id: str) -> Any:
        text = docs[task_id]["task"]
        assert isinstance(text, str)
        return text.replace(task_id, "ID").split('"date_done"')[0]

    assert comparable(theirs) == comparable(mine)
