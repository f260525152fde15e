"""Cross-reads with Celery 5.7's own ``ElasticsearchBackend`` on the same server, both ways,
in both ``elasticsearch_save_meta_as_text`` modes, and document layout identity.

Celery 5.7 builds its client with ``timeout=`` and ``http_auth=``, which elasticsearch-py 9
no longer accepts, so with the 9.x client its backend cannot connect at all; there the fixture
hands it a client built with the 9.x names (``request_timeout``), the one substitution.  With
8.x Celery builds its own.  Every request is Celery's own (``index`` with ``op_type=create``,
``get``, ``update`` with ``if_seq_no``/``if_primary_term``, ``delete``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import elasticsearch
import pytest
from celery import Celery
from celery.app.backends import by_url
from celery.backends.elasticsearch import ElasticsearchBackend as CeleryElasticsearchBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore_elasticsearch.config import ElasticsearchConfig
from resultstore_elasticsearch.host import ElasticsearchBackend
from resultstore_elasticsearch.store import client_options

MakeBackend = Callable[..., resultstore.ResultBackend]
CLIENT_MAJOR = int(elasticsearch.__versionstr__.split(".")[0])
MODES = [pytest.param(True, id="text"), pytest.param(False, id="object")]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


def _uid() -> str:
    return str(uuid.uuid4())


def _celery(url: str, as_text: bool) -> CeleryElasticsearchBackend:
    app = Celery("es-interop", set_as_current=False)
    app.conf.elasticsearch_save_meta_as_text = as_text
    backend = CeleryElasticsearchBackend(app=app, url=url)
    if CLIENT_MAJOR >= 9:
        config = ElasticsearchConfig.from_url(url, resultstore.Settings())
        backend._server = elasticsearch.Elasticsearch(config.node, **client_options(config))
    return backend


@pytest.fixture(params=MODES)
def pair(request: pytest.FixtureRequest, open_es: MakeBackend,
         es_url: str) -> tuple[CeleryElasticsearchBackend, resultstore.ResultBackend]:
    as_text: bool = request.param
    url = f"{es_url}-{'text' if as_text else 'object'}"
    return _celery(url, as_text), open_es(url, elasticsearch_save_meta_as_text=as_text)


def _source(celery: CeleryElasticsearchBackend, task_id: str) -> dict[str, Any]:
    return dict(celery.server.get(index=celery.index, id=f"celery-task-meta-{task_id}")["_source"])


def test_celery_writes_resultstore_reads(pair: Any) -> None:
    celery, backend = pair
    done, failed, gid = _uid(), "zażółć-" + _uid(), _uid()
    celery.mark_as_done(done, {"v": [1, "ż"]})
    celery.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    celery.save_group(gid, GroupResult(gid, [celery.app.AsyncResult("t1")], app=celery.app))
    assert backend.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = backend.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["traceback"] == "tb"
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None]]]}
    assert [m["status"] for m in backend.get_many([done, failed]).values()] == ["SUCCESS", "FAILURE"]
    backend.mark_as_failure(done, ValueError("late"))  # Celery's SUCCESS is kept
    assert celery.get_task_meta(done)["status"] == states.SUCCESS
    backend.forget(failed)
    assert celery.get_task_meta(failed)["status"] == states.PENDING


def test_resultstore_writes_celery_reads(pair: Any) -> None:
    celery, backend = pair
    done, failed, started, gid = _uid(), "zażółć-" + _uid(), _uid(), _uid()
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
    celery.mark_as_failure(done, ValueError("late"))  # our SUCCESS is kept by Celery too
    assert backend.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    celery.mark_as_done(started, 5)  # Celery's conditional update over our document
    assert backend.get_task_meta(started)["result"] == 5
    celery.forget(done)
    assert backend.get_task_meta(done, cache=False)["status"] == states.PENDING


@pytest.mark.parametrize("as_text", [True, False], ids=["text", "object"])
def test_documents_are_celerys(as_text: bool, open_es: MakeBackend, es_url: str) -> None:
    """Same task written by each side: identical ``_source`` but for times and our ``expires``."""
    url = f"{es_url}-layout"
    celery = _celery(url, as_text)
    backend = open_es(url, elasticsearch_save_meta_as_text=as_text)
    theirs, mine = _uid(), _uid()
    celery.mark_as_failure(theirs, InteropError("x"), traceback="Traceback (most recent)")
    backend.mark_as_failure(mine, InteropError("x"), traceback="Traceback (most recent)")

    def comparable(task_id: str) -> Any:
        source = _source(celery, task_id)
        assert set(source) - {"expires"} == {"result", "@timestamp"}
        assert source["@timestamp"].endswith("Z") and len(source["@timestamp"]) == 24
        result = source["result"]
        if as_text:
            assert isinstance(result, str)
            result = backend.decode(result)
        result = {k: v for k, v in result.items() if k not in ("date_done", "task_id")}
        return result

    assert comparable(theirs) == comparable(mine)
    if not as_text:  # object mode: result and traceback are JSON strings inside the object
        stored = _source(celery, mine)["result"]
        assert stored["traceback"] == '"Traceback (most recent)"'
        assert stored["result"].startswith('{"exc_type": "InteropError"')


def test_celery_loads_our_class_by_url(es_url: str) -> None:
    app = Celery("es-by-url", set_as_current=False)
    cls, url = by_url(f"{es_url}-byurl", app.loader)
    assert cls is ElasticsearchBackend
    host = cls(app=app, url=url)
    try:
        host.mark_as_done("t-by-url", 7)
        assert app.AsyncResult("t-by-url", backend=host).get(timeout=5) == 7
    finally:
        host.backend.close()


def test_binary_payloads_fail_loudly_in_celery(pair: Any) -> None:
    """A compressed result cannot be read by Celery (it ignores result_compression for
    Elasticsearch); it raises instead of returning garbage."""
    celery, backend = pair
    task_id = _uid()
    squeezed = resultstore.connect(backend.url, result_compression="gzip",
                                   elasticsearch_save_meta_as_text=backend.store.config.save_meta_as_text)
    try:
        squeezed.mark_as_done(task_id, "x" * 2000)
    finally:
        squeezed.close()
    with pytest.raises(Exception):  # noqa: B017 - kombu's decode error, whichever class
        celery.get_task_meta(task_id)
    assert backend.get_task_meta(task_id)["result"] == "x" * 2000



@pytest.mark.skipif(CLIENT_MAJOR < 9,
                    reason="only elasticsearch-py 9 dropped the timeout= argument")
def test_celery_57_cannot_build_its_own_client_on_elasticsearch_9(es_url: str) -> None:
    """Why the fixture above hands Celery a client; resultstore uses ``request_timeout``."""
    backend = CeleryElasticsearchBackend(app=Celery("es-9", set_as_current=False), url=es_url)
    with pytest.raises(TypeError, match="timeout"):
        backend.get_task_meta("t")


def test_resultstore_backends_lists_the_plugin() -> None:
    from resultstore.cli.inventory import inventory
    from resultstore.registry import Registry

    row = next(r for r in inventory(Registry()) if r.alias == "elasticsearch")
    assert (row.distribution, row.target) == ("resultstore-elasticsearch",
                                              "resultstore_elasticsearch.host:ElasticsearchBackend")
    assert row.replaces == "celery.backends.elasticsearch:ElasticsearchBackend"
    assert {"chord_add", "guarded_set", "batch", "cleanup", "aio"} <= set(row.capabilities or ())


@pytest.mark.parametrize("success_side", ["celery", "resultstore"])
def test_success_vs_late_failure_race_across_implementations(success_side: str, pair: Any) -> None:
    """Celery's and our optimistic concurrency interleave: the SUCCESS stays, every round.

    Celery's own update raises its ConflictError when it loses (unless
    ``result_backend_always_retry``); that is its way of keeping the SUCCESS.
    """
    celery, backend = pair
    for _ in range(15):
        task_id = _uid()
        barrier = threading.Barrier(2)

        def succeed(task_id: str = task_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            (celery if success_side == "celery" else backend).mark_as_done(task_id, "ok")

        def fail(task_id: str = task_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                (backend if success_side == "celery" else celery).mark_as_failure(
                    task_id, ValueError("late"))
            except elasticsearch.ConflictError:
                pass  # Celery's update lost the race

        threads = [threading.Thread(target=succeed), threading.Thread(target=fail)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert backend.get_task_meta(task_id, cache=False)["status"] == states.SUCCESS
        assert celery.get_task_meta(task_id)["result"] == "ok"
