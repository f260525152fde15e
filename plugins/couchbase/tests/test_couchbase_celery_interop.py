"""Documents cross-read both ways with Celery 5.7's own ``CouchbaseBackend``, and what that
backend does on the couchbase SDK 4 installed here.

On the stand-in Celery's backend runs on the same patched ``Cluster`` (Celery imports it
from ``couchbase.cluster``; the conftest patches both), so its options, transcoding and
results go through the installed SDK's own code, as ours do.

What Celery 5.7.0's backend does with SDK 4.6 (each asserted below):

* it instantiates (SDK 4 imports), but its first operation fails: it opens the cluster with
  ``Cluster(uri, PasswordAuthenticator(...))`` (or ``Cluster(uri, None)`` without
  credentials) and SDK 4 wants ``ClusterOptions(authenticator)``: ``InvalidArgumentException:
  Authenticator is mandatory.`` (the fake runs the SDK's own ``ClusterSettings`` on the
  arguments, so this is the SDK's answer; checked against a real ``Cluster`` too);
* given ``ClusterOptions`` (the ``sdk4_cluster`` fixture below), a missing document reads as
  ``None`` (PENDING): the celery 5.7.0 installed here catches ``DocumentNotFoundException``
  (the change of Celery PR #10680, still open upstream);
* ``set`` passes ``ttl=<result_expires>`` to ``upsert``: SDK 4 has no ``ttl`` option and
  refuses it (``AttributeError`` from its request object), so with the default
  ``result_expires`` (one day) Celery cannot store a result; with ``result_expires = None``
  it stores, without expiry;
* ``get`` reads ``GetResult.content``, which SDK 4 does not have (``value`` / ``content_as``):
  reading an existing result raises ``AttributeError``, as does ``mget``.

So the cross-reads below run Celery's backend with its cluster opened through
``ClusterOptions``, with ``result_expires = None`` (its writes) and with ``GetResult.content``
aliased to ``value`` (its reads): the documents each side writes are what the other reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import celery.backends.couchbase as celery_couchbase
import couchbase.cluster
import pytest
from celery import Celery
from celery.backends.couchbase import CouchbaseBackend as CeleryCouchbaseBackend
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster as RealCluster  # imported before the conftest patches it
from couchbase.constants import FMT_JSON
from couchbase.exceptions import InvalidArgumentException
from couchbase.options import ClusterOptions
from couchbase.result import GetResult
from couchbase_fake.server import DocumentServer

import resultstore
from resultstore import states

MakeBackend = Callable[..., resultstore.ResultBackend]
CeleryMaker = Callable[..., CeleryCouchbaseBackend]


class InteropError(Exception):
    """Raised by neither side; both must rebuild it by module and name."""


@pytest.fixture
def celery_backend(couchbase_url: str) -> Iterator[CeleryMaker]:
    def make(**conf: Any) -> CeleryCouchbaseBackend:
        app = Celery(f"interop-{uuid.uuid4().hex[:6]}", set_as_current=False)
        app.conf.update(conf)
        return CeleryCouchbaseBackend(app=app, url=couchbase_url)

    yield make


@pytest.fixture
def sdk4_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's ``Cluster(uri, authenticator)`` as SDK 4 wants it: ``Cluster(uri, ClusterOptions(...))``."""
    cluster_class = couchbase.cluster.Cluster  # the stand-in's, or the real one

    def cluster(uri: str, authenticator: Any) -> Any:
        return cluster_class(uri, ClusterOptions(authenticator))

    monkeypatch.setattr(celery_couchbase, "Cluster", cluster)


@pytest.fixture
def content_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """SDK 3's ``GetResult.content`` (what Celery reads), as an alias of SDK 4's ``value``."""
    monkeypatch.setattr(GetResult, "content", property(lambda result: result.value), raising=False)


@pytest.fixture
def ours(open_backend: MakeBackend, couchbase_url: str) -> MakeBackend:
    return lambda **settings: open_backend(couchbase_url, **settings)


def _uid() -> str:
    return str(uuid.uuid4())


def test_celery_backend_cannot_connect_with_sdk4(celery_backend: CeleryMaker) -> None:
    celery = celery_backend()  # instantiates
    with pytest.raises(InvalidArgumentException, match="Authenticator is mandatory"):
        celery.get_task_meta(_uid())


def test_the_real_sdk_refuses_celerys_cluster_arguments() -> None:
    """The real ``Cluster`` (no server needed: the SDK refuses before connecting)."""
    assert RealCluster.__module__ == "couchbase.cluster"
    with pytest.raises(InvalidArgumentException, match="Authenticator is mandatory"):
        RealCluster("couchbase://127.0.0.1:1", PasswordAuthenticator("app", "pw"))
    with pytest.raises(InvalidArgumentException, match="Authenticator is mandatory"):
        RealCluster("couchbase://127.0.0.1:1", None)


def test_celery_backend_on_sdk4_given_cluster_options(celery_backend: CeleryMaker,
                                                      sdk4_cluster: None) -> None:
    celery = celery_backend()
    missing = _uid()
    assert celery.get_task_meta(missing)["status"] == states.PENDING  # missing -> None, not raised
    celery.forget(missing)  # removing a missing document is a no-op
    with pytest.raises(AttributeError, match="ttl"):
        celery.store_result(_uid(), 1, states.SUCCESS)  # upsert(..., ttl=86400)
    no_expiry = celery_backend(result_expires=None)
    task_id = _uid()
    no_expiry.store_result(task_id, 1, states.SUCCESS)
    with pytest.raises(AttributeError, match="content"):
        celery_backend(result_expires=None).get_task_meta(task_id)  # GetResult.content
    with pytest.raises(AttributeError, match="content"):
        no_expiry.mget([no_expiry.get_key_for_task(task_id)])


def test_celery_writes_resultstore_reads(celery_backend: CeleryMaker, ours: MakeBackend,
                                        sdk4_cluster: None) -> None:
    celery = celery_backend(result_expires=None)
    done, failed, group_id = _uid(), _uid(), _uid()
    celery.mark_as_done(done, {"answer": [1, 2, "three"]})
    celery.mark_as_failure(failed, InteropError("boom"))
    celery.save_group(group_id, celery.app.GroupResult(group_id, [celery.app.AsyncResult(done)]))
    backend = ours()
    meta = backend.get_task_meta(done)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, {"answer": [1, 2, "three"]})
    failure = backend.get_task_meta(failed)
    assert failure["status"] == states.FAILURE
    assert type(failure["result"]).__name__ == "InteropError" and str(failure["result"]) == "boom"
    group = backend.get_group_meta(group_id)
    assert group is not None and done in str(group["result"])
    many = dict(backend.get_many([done, failed, _uid()]))
    assert many[done]["status"] == states.SUCCESS and many[failed]["status"] == states.FAILURE


def test_resultstore_writes_celery_reads(celery_backend: CeleryMaker, ours: MakeBackend,
                                         sdk4_cluster: None, content_alias: None) -> None:
    backend = ours()
    done, failed, group_id = _uid(), _uid(), _uid()
    backend.mark_as_done(done, {"answer": 42})
    backend.mark_as_failure(failed, InteropError("bad"))
    celery = celery_backend()
    backend.save_group(group_id, celery.app.GroupResult(
        group_id, [celery.app.AsyncResult(done), celery.app.AsyncResult(failed)]))
    meta = celery.get_task_meta(done)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, {"answer": 42})
    failure = celery.get_task_meta(failed)
    assert failure["status"] == states.FAILURE and str(failure["result"]) == "bad"
    assert type(failure["result"]).__name__ == "InteropError"
    assert [r.id for r in celery.restore_group(group_id).results] == [done, failed]
    found = dict(celery.get_many([done, failed], timeout=5))
    assert found[done]["result"] == {"answer": 42}
    celery.forget(done)
    assert backend.get_task_meta(done, cache=False)["status"] == states.PENDING


def test_same_document_layout(celery_backend: CeleryMaker, ours: MakeBackend,
                              only_fake: DocumentServer, sdk4_cluster: None) -> None:
    """Both sides store the payload as a JSON string document (flags FMT_JSON) under Celery's key."""
    celery_id, our_id = _uid(), _uid()
    celery_backend(result_expires=None).mark_as_done(celery_id, "same")
    ours().mark_as_done(our_id, "same")
    docs = {where[-1]: doc for where, doc in only_fake.docs.items()}
    theirs, mine = docs[f"celery-task-meta-{celery_id}"], docs[f"celery-task-meta-{our_id}"]
    assert theirs[1] == mine[1] == FMT_JSON
    assert theirs[0].startswith(b'"{') and mine[0].startswith(b'"{')  # a JSON string of JSON
