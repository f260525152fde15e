"""CacheStore specifics and cross-reads with Celery 5.7's own CacheBackend on one memcached."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from celery import Celery
from celery.app.backends import by_url
from celery.backends.cache import CacheBackend as CeleryCacheBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore.errors import BackendStoreError, ImproperlyConfigured, InvalidTaskId
from resultstore.stores.memory import MemoryStore
from resultstore.testing.servers import ServerProcess, free_port
from resultstore_cache import CacheStore
from resultstore_cache.host import CacheBackend
from resultstore_cache.store import MAX_RELATIVE_EXPIRES, memcached_expire

MakeBackend = Callable[..., resultstore.ResultBackend]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


@pytest.fixture
def ours(open_cache: MakeBackend, memcached_url: str) -> MakeBackend:
    return functools.partial(open_cache, f"cache+{memcached_url}")


@pytest.fixture
def celery_cache(memcached_url: str) -> CeleryCacheBackend:
    app = Celery("cache-interop", set_as_current=False)
    return CeleryCacheBackend(app=app, url=memcached_url)


def _uid() -> str:
    return str(uuid.uuid4())


# -- Celery interop ---------------------------------------------------------------------
def test_celery_writes_resultstore_reads(celery_cache: CeleryCacheBackend, ours: MakeBackend) -> None:
    done, failed, gid = _uid(), _uid(), _uid()
    celery_cache.mark_as_done(done, {"v": [1, "ż"]})
    celery_cache.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    group = GroupResult(gid, [celery_cache.app.AsyncResult("t1")], app=celery_cache.app)
    celery_cache.save_group(gid, group)
    backend = ours()
    assert backend.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = backend.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["traceback"] == "tb"
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None]]]}
    backend.mark_as_failure(done, ValueError("late"))  # Celery's SUCCESS is kept
    assert celery_cache.get_task_meta(done)["status"] == states.SUCCESS


def test_resultstore_writes_celery_reads(celery_cache: CeleryCacheBackend, ours: MakeBackend) -> None:
    backend = ours()
    done, failed, gid = _uid(), _uid(), _uid()
    backend.mark_as_done(done, {"v": [1, "ż"]})
    backend.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    backend.save_group(gid, [[gid, None], [[["t9", None], None]]])
    assert celery_cache.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = celery_cache.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 2)
    restored = celery_cache.restore_group(gid)
    assert [r.id for r in restored.results] == ["t9"]
    assert dict(celery_cache.get_many([done], max_iterations=1))[done]["status"] == "SUCCESS"


def test_same_bytes_as_celery(celery_cache: CeleryCacheBackend, ours: MakeBackend) -> None:
    backend = ours()
    store = backend.store
    assert isinstance(store, CacheStore)
    by_celery, by_us = _uid(), _uid()
    celery_cache.store_result(by_celery, [1, 2.5, None], states.STARTED)
    backend.store_result(by_us, [1, 2.5, None], states.STARTED)
    theirs = store.get(f"celery-task-meta-{by_celery}")
    mine = store.get(f"celery-task-meta-{by_us}")
    assert theirs is not None and mine is not None
    assert theirs.replace(by_celery.encode(), b"ID") == mine.replace(by_us.encode(), b"ID")


def test_celery_loads_the_host_class(memcached_url: str) -> None:
    app = Celery("hosted", set_as_current=False)
    cls, url = by_url(f"cache+{memcached_url}", app.loader)
    assert cls is CacheBackend and url == memcached_url
    host = CacheBackend(app=app, url=url)
    assert isinstance(host.backend.store, CacheStore)
    assert host.as_uri() == memcached_url
    host.backend.close()


# -- limits and errors ----------------------------------------------------------------------
def test_oversized_value_is_a_clear_error_and_nothing_is_lost(ours: MakeBackend) -> None:
    backend, task_id = ours(), _uid()
    backend.store_result(task_id, "small", states.STARTED)
    with pytest.raises(BackendStoreError, match="item size limit"):
        backend.mark_as_done(task_id, "x" * (1024 * 1024 + 1))
    meta = backend.get_task_meta(task_id)  # the connection still works, the old value is intact
    assert (meta["status"], meta["result"]) == (states.STARTED, "small")
    store = backend.store
    assert isinstance(store, CacheStore)
    with pytest.raises(BackendStoreError, match="item size limit"):
        store.set_many({"a": b"1", "b": b"x" * (2 * 1024 * 1024)}, 60)


def test_bad_keys_are_invalid_task_ids(ours: MakeBackend) -> None:
    backend = ours()
    with pytest.raises(InvalidTaskId, match="250 bytes"):
        backend.mark_as_done("x" * 300, 1)
    with pytest.raises(InvalidTaskId):
        backend.mark_as_done("has space", 1)


def test_long_ttls_become_absolute_times() -> None:
    assert memcached_expire(None) == 0 and memcached_expire(0.2) == 1
    assert memcached_expire(MAX_RELATIVE_EXPIRES) == MAX_RELATIVE_EXPIRES
    assert memcached_expire(MAX_RELATIVE_EXPIRES + 1, now=lambda: 1000.5) == 1000 + MAX_RELATIVE_EXPIRES + 1


def test_forty_day_expiry_is_kept(ours: MakeBackend) -> None:
    backend, task_id = ours(result_expires=40 * 86400), _uid()
    backend.mark_as_done(task_id, 1)
    assert backend.get_task_meta(task_id)["status"] == states.SUCCESS


def test_server_down_is_transient_and_reported(open_cache: MakeBackend) -> None:
    backend = open_cache(f"cache+memcached://127.0.0.1:{free_port()}/",
                         cache_backend_options={"connect_timeout": 0.5},
                         result_backend_always_retry=True, result_backend_max_retries=1,
                         result_backend_base_sleep_between_retries_ms=1)
    with pytest.raises(BackendStoreError, match="gave up after 1 retries"):
        backend.mark_as_done(_uid(), 1)


def test_restarted_server_is_reconnected(tmp_path: object, open_cache: MakeBackend) -> None:
    import os
    from pathlib import Path

    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    with ServerProcess(["memcached", "-l", "127.0.0.1", "-p", "{port}", "-U", "0", *user],
                       workdir=Path(str(tmp_path))) as server:
        backend = open_cache(f"cache+memcached://127.0.0.1:{server.port}/",
                             result_backend_always_retry=True, result_backend_max_retries=3)
        backend.mark_as_done("before", 1)
        server.restart()
        backend.mark_as_done("after", 2)  # the stale pooled socket is replaced
        assert backend.get_task_meta("after")["result"] == 2


def test_urls_and_options(memcached_server: ServerProcess) -> None:
    port = memcached_server.port
    settings = resultstore.Settings(cache_backend_options={"behaviors": {"tcp_nodelay": True}})
    with pytest.warns(DeprecationWarning, match="pylibmc-only"):
        store = CacheStore.from_url(f"pylibmc://127.0.0.1:{port}/", settings)
    assert isinstance(store, CacheStore) and store.as_uri() == f"pylibmc://127.0.0.1:{port}/"
    store.close()
    two = CacheStore.from_url(f"memcached://127.0.0.1:{port};127.0.0.1:{port}/", resultstore.Settings())
    assert isinstance(two, CacheStore)
    two.set("k", b"v", 10)
    assert two.mget(["k", "missing"]) == [b"v", None]
    two.close()
    from_setting = CacheStore.from_url("", resultstore.Settings(cache_backend=f"memcached://127.0.0.1:{port}/"))
    assert isinstance(from_setting, CacheStore)
    from_setting.close()
    assert isinstance(CacheStore.from_url("memory://", resultstore.Settings()), MemoryStore)
    with pytest.raises(ImproperlyConfigured, match="Unknown cache backend"):
        CacheStore.from_url("redis://x/", resultstore.Settings())
    with pytest.raises(ImproperlyConfigured, match="No memcached server"):
        CacheStore.from_url("memcached://", resultstore.Settings())


# -- atomicity --------------------------------------------------------------------------------
def test_incr_creates_and_counts_exactly(ours: MakeBackend) -> None:
    store = ours().store
    assert isinstance(store, CacheStore)
    key = f"chord-unlock-{_uid()}"
    with ThreadPoolExecutor(8) as pool:
        values = sorted(pool.map(lambda _: store.incr(key, 60), range(200)))
    assert values == list(range(1, 201))
