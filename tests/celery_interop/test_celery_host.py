"""The host class in process: loading by Celery, attributes, wire cross-reads, retries, eager."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery, chord
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.exceptions import BackendGetMetaError, TimeoutError
from celery.result import GroupResult
from ci_app import InteropError, make_app
from ci_rskv import IncrRedisBackend, PlainRedisBackend

from resultstore.celery import CeleryBackend
from resultstore.celery.builtins import DisabledBackend, MemoryBackend
from resultstore.testing import FlakyStore
from resultstore.testing.servers import ServerProcess


def _app(**conf: Any) -> Celery:
    app = Celery("host-tests", set_as_current=False)
    app.config_from_object(conf)
    return app


@pytest.fixture
def rskv_url(redis_server: ServerProcess) -> Iterator[str]:
    url = f"rskv://127.0.0.1:{redis_server.port}/9"
    yield url
    redis.Redis(port=redis_server.port, db=9).flushdb()


# -- loading ------------------------------------------------------------------
def test_core_imports_without_celery() -> None:
    """Celery is optional: core never imports it, and the host module imports without it."""
    code = ("import sys, resultstore; assert 'celery' not in sys.modules, 'celery was imported'; "
            "sys.modules['celery'] = None; "
            "import resultstore.celery, resultstore.celery.builtins; "
            "b = resultstore.celery.builtins.MemoryBackend(url='memory://no-celery'); "
            "b.backend.mark_as_done('t', 1); assert b.get_task_meta('t')['result'] == 1; "
            "assert [k.__module__.split('.')[0] for k in type(b).__mro__[:-1]] == "
            "['resultstore'] * (len(type(b).__mro__) - 1)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_host_classes_are_celery_backends() -> None:
    from celery.backends.base import Backend, BaseBackend

    app = _app(result_backend="resultstore.celery.builtins:MemoryBackend")
    assert isinstance(app.backend, BaseBackend) and isinstance(app.backend, Backend)


def test_disabled_backend_surface() -> None:
    from celery.backends.base import DisabledBackend as CeleryDisabledBackend

    from resultstore.testing.celery_surface import check_celery_surface

    app = _app()
    ours = DisabledBackend(app=app, url="disabled://")
    check_celery_surface(ours, CeleryDisabledBackend(app=app), Path(__file__))
    assert isinstance(ours, CeleryDisabledBackend)


def test_override_backends_on_the_loader() -> None:
    app = _app(override_backends={"rsmem": "resultstore.celery.builtins:MemoryBackend"},
               result_backend="rsmem://override-ns")
    assert type(app.backend) is MemoryBackend
    assert app.backend.as_uri() == "memory://override-ns"


def test_module_class_path_and_class_object() -> None:
    by_path = _app(result_backend="resultstore.celery.builtins:MemoryBackend")
    assert type(by_path.backend) is MemoryBackend
    by_object = Celery("host-tests", backend=MemoryBackend, set_as_current=False)
    assert type(by_object.backend) is MemoryBackend


def test_module_class_path_takes_its_url_from_resultstore_url(rskv_url: str) -> None:
    app = _app(result_backend="ci_rskv:IncrRedisBackend", resultstore_url=rskv_url)
    assert type(app.backend) is IncrRedisBackend
    assert app.backend.as_uri() == rskv_url


# -- attributes ---------------------------------------------------------------------
def test_attributes_celery_reads() -> None:
    backend = MemoryBackend(app=_app())
    assert backend.thread_safe is False
    assert backend.persistent is True
    assert frozenset({"SUCCESS", "FAILURE", "REVOKED"}) == backend.READY_STATES
    assert backend.supports_native_join is True
    assert backend.is_async is False
    assert backend.max_retries == math.inf
    assert backend.TimeoutError is TimeoutError
    assert backend.supports_autoexpire is False  # memory expires on cleanup(): beat runs it
    assert backend.expires == 86400


def test_attributes_follow_the_settings(rskv_url: str) -> None:
    app = _app(result_backend_thread_safe=True, result_persistent=False,
               result_backend_max_retries=4, result_expires=60)
    backend = PlainRedisBackend(app=app, url=rskv_url)
    assert backend.thread_safe is True
    assert backend.persistent is False
    assert backend.max_retries == 4
    assert backend.expires == 60
    assert backend.supports_autoexpire is True  # redis keys expire by themselves
    assert PlainRedisBackend(app=app, url=rskv_url, expires=5).expires == 5


def test_backend_pickles_by_class_and_url(rskv_url: str) -> None:
    app = _app()
    backend = PlainRedisBackend(app=app, url=rskv_url)
    clone = pickle.loads(pickle.dumps(backend))  # rebuilt on current_app; the URL carries the store
    assert type(clone) is PlainRedisBackend
    assert clone.as_uri() == backend.as_uri()


def test_prepare_exception_per_serializer() -> None:
    backend = MemoryBackend(app=_app())
    exc = InteropError("x", 1)
    assert backend.prepare_exception(exc) == {
        "exc_type": "InteropError", "exc_message": ("x", 1), "exc_module": "ci_app"}
    assert backend.prepare_exception(exc, "pickle") is exc
    restored = backend.exception_to_python(backend.prepare_exception(exc))
    assert type(restored) is InteropError and restored.args == ("x", 1)


# -- wire compatibility with Celery's own RedisBackend -------------------------------
@pytest.fixture
def both(redis_server: ServerProcess, rskv_url: str) -> tuple[Any, Any]:
    app = _app(result_extended=True)
    celery_backend = CeleryRedisBackend(app=app, url=f"redis://127.0.0.1:{redis_server.port}/9")
    return celery_backend, PlainRedisBackend(app=app, url=rskv_url)


def test_ours_reads_what_celery_wrote(both: tuple[Any, Any]) -> None:
    theirs, ours = both
    ok, bad = str(uuid.uuid4()), str(uuid.uuid4())
    theirs.store_result(ok, {"n": [1, 2]}, "SUCCESS")
    theirs.mark_as_failure(bad, InteropError("wire", 2), traceback="tb")
    assert ours.get_task_meta(ok)["result"] == {"n": [1, 2]}
    failed = ours.get_task_meta(bad)
    assert failed["status"] == "FAILURE" and failed["traceback"] == "tb"
    assert type(failed["result"]) is InteropError and failed["result"].args == ("wire", 2)


def test_celery_reads_what_ours_wrote(both: tuple[Any, Any]) -> None:
    theirs, ours = both
    ok, bad, revoked = (str(uuid.uuid4()) for _ in range(3))
    ours.mark_as_done(ok, [1, "two"])
    ours.mark_as_failure(bad, InteropError("back", 3), traceback="tb")
    ours.mark_as_revoked(revoked, "because")
    assert theirs.get_task_meta(ok)["result"] == [1, "two"]
    assert theirs.get_task_meta(ok)["task_id"] == ok
    failed = theirs.get_task_meta(bad)["result"]
    assert type(failed) is InteropError and failed.args == ("back", 3)
    assert type(theirs.get_task_meta(revoked)["result"]).__name__ == "TaskRevokedError"
    assert theirs.get_task_meta(ok)["date_done"] is not None


def test_saved_groups_cross_read(both: tuple[Any, Any]) -> None:
    theirs, ours = both
    app = ours.app
    members = [app.AsyncResult(str(uuid.uuid4())) for _ in range(3)]
    saved = GroupResult(str(uuid.uuid4()), members, app=app)
    ours.save_group(saved.id, saved)
    assert [r.id for r in theirs.restore_group(saved.id).results] == [m.id for m in members]
    other = GroupResult(str(uuid.uuid4()), members[:1], app=app)
    theirs.save_group(other.id, other)
    restored = ours.restore_group(other.id)
    assert isinstance(restored, GroupResult) and restored.results == members[:1]
    ours.delete_group(other.id)
    assert theirs.restore_group(other.id) is None


# -- worker-lost path, retries ---------------------------------------------------------
def test_ensure_retryable_forwards_task_id_and_retries(rskv_url: str) -> None:
    backend = PlainRedisBackend(app=_app(result_backend_always_retry=True), url=rskv_url)
    backend.mark_as_done("lost-1", 1)
    flaky = FlakyStore(backend.backend.store, "get", redis.ConnectionError("blip"), failures=2)
    try:
        meta = backend._ensure_retryable(backend._get_task_meta_for,
                                         fallback_exc=BackendGetMetaError,
                                         fallback_msg="failed to get meta",
                                         task_id="lost-1", max_retries=3)
        assert meta["status"] == "SUCCESS"
        flaky.remaining = 5
        with pytest.raises(BackendGetMetaError, match="failed to get meta"):
            backend._ensure_retryable(backend._get_task_meta_for,
                                      fallback_exc=BackendGetMetaError,
                                      fallback_msg="failed to get meta",
                                      task_id="lost-1", max_retries=2)
    finally:
        flaky.restore()


# -- reading, waiting --------------------------------------------------------------
def test_wait_for_times_out_with_celery_timeout_error() -> None:
    backend = MemoryBackend(app=_app(), url="memory://wait-timeout")
    with pytest.raises(TimeoutError):
        backend.wait_for(str(uuid.uuid4()), timeout=0.1, interval=0.02)


def test_get_many_single_pass_yields_only_ready() -> None:
    backend = MemoryBackend(app=_app(), url="memory://single-pass")
    backend.mark_as_done("ready-1", 1)
    found = dict(backend.get_many(["ready-1", "never"], max_iterations=1, interval=0.01))
    assert list(found) == ["ready-1"]


def test_meta_cache_and_reload() -> None:
    backend = MemoryBackend(app=_app(result_cache_max=10), url="memory://cache")
    backend.mark_as_done("c1", 1)
    assert backend.get_task_meta("c1")["result"] == 1
    assert backend.is_cached("c1")
    backend.forget("c1")
    assert not backend.is_cached("c1")
    assert backend.get_state("c1") == "PENDING"


def test_children_without_request_are_null_outside_a_task() -> None:
    backend = MemoryBackend(app=_app(), url="memory://children")
    backend.store_result("no-request", 1, "SUCCESS")
    assert backend.get_task_meta("no-request")["children"] is None


def test_current_task_children_of_a_request() -> None:
    backend = MemoryBackend(app=_app())
    app = backend.app
    child = app.AsyncResult("child-1")
    request = type("Req", (), {"children": [child]})()
    assert backend.current_task_children(request) == [(("child-1", None), None)]
    assert backend.current_task_children() is None  # no task running


# -- eager mode, memory and disabled ------------------------------------------------------
def test_eager_mode_stores_with_task_store_eager_result() -> None:
    app = make_app({"task_always_eager": True, "task_store_eager_result": True,
                    "result_backend": "resultstore.celery.builtins:MemoryBackend",
                    "ci_redis_url": "redis://unused"})
    result = app.tasks["ci.add"].delay(1, 2)
    assert result.get() == 3
    assert app.backend.get_task_meta(result.id)["result"] == 3
    assert chord([app.tasks["ci.add"].s(1, 1), app.tasks["ci.add"].s(2, 2)],
                 app.tasks["ci.tsum"].s()).apply().get() == 6
    failing = app.tasks["ci.fail"].apply(("eager", 1))
    assert app.backend.get_state(failing.id) == "FAILURE"


def test_disabled_refuses_chords_and_reads() -> None:
    backend = DisabledBackend(app=_app())
    backend.store_result("x", 1, "SUCCESS")  # dropped
    with pytest.raises(NotImplementedError):
        backend.ensure_chords_allowed()
    with pytest.raises(Exception, match="No result backend is configured"):
        backend.get_task_meta("x")


def test_add_to_chord_needs_a_store_that_counts(rskv_url: str) -> None:
    app = _app()
    with pytest.raises(NotImplementedError, match="add_to_chord"):
        PlainRedisBackend(app=app, url=rskv_url).add_to_chord("g", None)
    IncrRedisBackend(app=app, url=rskv_url).add_to_chord("g", None)
    MemoryBackend(app=app, url="memory://grow").add_to_chord("g", None)


def test_group_result_in_memory_app_uses_native_join() -> None:
    app = _app(result_backend="resultstore.celery.builtins:MemoryBackend")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, task_id in enumerate(ids):
        app.backend.mark_as_done(task_id, i)
    result = group_result(app, ids)
    assert result.join_native(timeout=1) == [0, 1, 2]
    assert isinstance(app.backend, CeleryBackend)


def group_result(app: Celery, ids: list[str]) -> GroupResult:
    return GroupResult(str(uuid.uuid4()), [app.AsyncResult(i) for i in ids], app=app)



def test_waiting_works_in_a_forked_child(redis_server: ServerProcess) -> None:
    """A prefork child inherits the parent's backend: its waits must not hang on a dead thread."""
    import multiprocessing
    import threading

    from resultstore_redis.host import RedisBackend

    backend = RedisBackend(app=_app(), url=f"redis://127.0.0.1:{redis_server.port}/13")
    parent_id, child_id = str(uuid.uuid4()), str(uuid.uuid4())
    threading.Timer(0.2, backend.mark_as_done, (parent_id, "parent")).start()
    assert backend.wait_for(parent_id, timeout=5, interval=5)["result"] == "parent"  # pushed

    def child(queue: Any) -> None:
        try:
            meta = backend.wait_for(child_id, timeout=5, interval=5)
            queue.put(meta["result"])
        except BaseException as exc:
            queue.put(repr(exc))

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    threading.Timer(0.5, backend.mark_as_done, (child_id, "child")).start()
    try:
        assert queue.get(timeout=10) == "child"
    finally:
        process.join(10)


@pytest.mark.parametrize("serializer", ["pickle", "json"])  # yaml, msgpack: extra libraries
def test_result_serializers(serializer: str) -> None:
    app = _app(result_serializer=serializer, result_accept_content=[serializer])
    backend = MemoryBackend(app=app, url=f"memory://ser-{serializer}")
    backend.mark_as_done("ok", {"a": [1, 2]})
    backend.mark_as_failure("bad", InteropError("ser", 1))
    assert backend.get_task_meta("ok")["result"] == {"a": [1, 2]}
    failed = backend.get_task_meta("bad")["result"]
    assert type(failed) is InteropError and list(failed.args) == ["ser", 1]


def test_lost_chord_claim_skips_the_body(caplog: pytest.LogCaptureFixture) -> None:
    """A claim taken over elsewhere (Redis: expired during a stall) is logged, never dispatched."""
    from types import SimpleNamespace

    from resultstore.errors import ChordClaimLost

    backend = MemoryBackend(app=_app(), url=f"memory://claim-{uuid.uuid4()}")
    backend.set_chord_size("g-claim", 1)
    FlakyStore(backend.backend.store, "chord_parts", ChordClaimLost("claim owned elsewhere"), 1)
    request = SimpleNamespace(id="t-claim", group="g-claim", group_index=0,
                              chord={"task": "never.sent", "args": [], "kwargs": {}, "options": {}})
    with caplog.at_level("WARNING"):
        assert backend.on_chord_part_return(request, "SUCCESS", 1) is None
    assert "claim owned elsewhere" in caplog.text


def test_result_expires_none_means_never_as_celery(rskv_url: str) -> None:
    """``result_expires=None`` in app.conf: no TTL (Celery: never), unset: one day."""
    never = _app(result_expires=None, result_backend="resultstore.celery.builtins:MemoryBackend")
    theirs = CeleryRedisBackend(app=never, url="redis://127.0.0.1:1/0")
    assert never.backend.expires is None and theirs.expires is None
    assert MemoryBackend(app=never, url="memory://x", expires=None).expires is None
    default = _app(result_backend="resultstore.celery.builtins:MemoryBackend")
    assert default.backend.expires == 86400
    from resultstore_redis.host import RedisBackend

    url = rskv_url.replace("rskv://", "redis://")
    RedisBackend(app=never, url=url).store_result("never-expires", 1, "SUCCESS")
    assert redis.Redis.from_url(url).ttl("celery-task-meta-never-expires") == -1  # as Celery


def test_connect_result_expires_none_means_never() -> None:
    import resultstore

    assert resultstore.connect("memory://", result_expires=None).expires is None
    assert resultstore.connect("memory://").expires == 86400
