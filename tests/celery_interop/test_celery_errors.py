"""A Celery user's ``except`` clauses catch our errors: each situation, Celery's backend beside ours.

For every situation below, Celery's own ``RedisBackend`` and resultstore-redis
are driven the same way against the same real redis-server; the exception ours
raises must be an instance of the class Celery's raises (and of resultstore's
error hierarchy).  Where Celery raises a builtin (``ValueError`` for a bad
option), ours must be one too.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.result import AsyncResult

from resultstore import errors
from resultstore.celery.builtins import MemoryBackend
from resultstore.testing.servers import ServerProcess
from resultstore_redis.host import RedisBackend

Situation = Callable[[type, str], Any]

RETRY = {"result_backend_always_retry": True, "result_backend_max_retries": 1,
         "result_backend_base_sleep_between_retries_ms": 1}
CLOSED = "redis://127.0.0.1:1/0"


def _app(**conf: Any) -> Celery:
    app = Celery("errors", set_as_current=False)
    app.config_from_object(conf)
    return app


def _backend(cls: type, url: str, **conf: Any) -> Any:
    return cls(app=_app(**conf), url=url)


def _raw(url: str, key: str, payload: bytes) -> str:
    client = redis.Redis.from_url(url)
    client.set(f"celery-task-meta-{key}", payload)
    return key


SITUATIONS: dict[str, Situation] = {
    "store retries exhausted": lambda cls, url: _backend(cls, CLOSED, **RETRY).store_result(
        "t", 1, "SUCCESS"),
    "read retries exhausted": lambda cls, url: _backend(cls, CLOSED, **RETRY).get_task_meta("t"),
    "worker-lost read (_ensure_retryable)": lambda cls, url: (
        lambda b: b._ensure_retryable(b._get_task_meta_for, fallback_exc=_celery_get_meta_error(),
                                      fallback_msg="failed to get meta", task_id="t",
                                      max_retries=1))(_backend(cls, CLOSED, **RETRY)),
    "unknown result_compression": lambda cls, url: _backend(
        cls, url, result_compression="nosuch").store_result("t", 1, "SUCCESS"),
    "bad ssl_cert_reqs in the URL": lambda cls, url: _backend(
        cls, url.replace("redis://", "rediss://") + "?ssl_cert_reqs=bogus"),
    "bad result_expires": lambda cls, url: _backend(cls, url, result_expires="x"),
    "corrupt stored payload": lambda cls, url: _backend(cls, url).get_task_meta(
        _raw(url, f"corrupt-{uuid.uuid4()}", b"{not json")),
    "content type not accepted": lambda cls, url: _backend(
        cls, url, result_accept_content=["pickle"]).get_task_meta(
        _raw(url, f"json-{uuid.uuid4()}", b'{"status": "SUCCESS", "result": 1}')),
    "stored class is not an exception": lambda cls, url: _backend(cls, url).get_task_meta(
        _raw(url, f"notexc-{uuid.uuid4()}", b'{"status": "FAILURE", "result": {"exc_type": '
             b'"dict", "exc_message": [], "exc_module": "builtins"}}')),
    "empty task id": lambda cls, url: _backend(cls, url).get_task_meta(""),
    "AsyncResult.get timeout": lambda cls, url: AsyncResult(
        str(uuid.uuid4()), backend=_backend(cls, url)).get(timeout=0.2, interval=0.05),
}


#: Celery's worker passes ``fallback_exc=celery.exceptions.BackendGetMetaError`` itself.
CALLER_PICKS_THE_CLASS = {"worker-lost read (_ensure_retryable)"}


class PluginStoreError(errors.BackendStoreError):
    """A plugin's own subclass of a resultstore error."""


def _celery_get_meta_error() -> type:
    from celery.exceptions import BackendGetMetaError

    return BackendGetMetaError


def _raised(situation: Situation, cls: type, url: str) -> BaseException:
    with pytest.raises(Exception) as caught:
        situation(cls, url)
    return caught.value


@pytest.fixture
def url(redis_server: ServerProcess) -> Iterator[str]:
    yield f"redis://127.0.0.1:{redis_server.port}/20"
    redis.Redis(port=redis_server.port, db=20).flushdb()


@pytest.mark.parametrize("name", sorted(SITUATIONS))
def test_our_error_is_an_instance_of_celerys(name: str, url: str) -> None:
    theirs = _raised(SITUATIONS[name], CeleryRedisBackend, url)
    ours = _raised(SITUATIONS[name], RedisBackend, url)
    assert isinstance(ours, type(theirs)), (
        f"{name}: Celery raises {type(theirs).__module__}.{type(theirs).__qualname__}, "
        f"ours {type(ours).__mro__}")
    if name not in CALLER_PICKS_THE_CLASS:
        assert isinstance(ours, errors.ResultStoreError)


def test_celery_classes_keep_resultstore_attributes_and_message() -> None:
    from celery.exceptions import BackendStoreError

    backend = _backend(RedisBackend, CLOSED, **RETRY)
    with pytest.raises(BackendStoreError) as caught:
        backend.store_result("t-attrs", 1, "SUCCESS")
    exc = caught.value
    assert isinstance(exc, errors.BackendStoreError)
    assert (exc.task_id, exc.state) == ("t-attrs", "SUCCESS")
    assert "store_result failed" in str(exc) and "state:SUCCESS task_id:t-attrs" in repr(exc)
    assert exc.__cause__ is not None  # the driver's error stays attached
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc) and str(copy) == str(exc)


def test_plugin_error_subclasses_get_a_celery_twin() -> None:
    from celery.exceptions import BackendStoreError

    from resultstore.celery.exceptions import as_celery_error

    exc = as_celery_error(PluginStoreError("x", task_id="t"))
    assert isinstance(exc, PluginStoreError) and isinstance(exc, BackendStoreError)
    assert type(pickle.loads(pickle.dumps(exc))) is PluginStoreError


def test_errors_outside_celery_stay_resultstores() -> None:
    """``resultstore.connect`` users see resultstore's classes only (Celery not involved)."""
    import resultstore

    with pytest.raises(errors.ImproperlyConfigured) as caught:
        resultstore.connect("memory://", result_serializer="nosuch")
    assert type(caught.value) is errors.ImproperlyConfigured


def test_builtin_host_raises_celery_classes_too() -> None:
    from celery.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        _backend(MemoryBackend, "memory://x", result_serializer="nosuch")
