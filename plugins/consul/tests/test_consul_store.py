"""resultstore-consul specifics: URLs, Celery's layout and what its backend does today,
session expiry, round trips, push, errors."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from celery import Celery
from celery.backends.consul import ConsulBackend as CeleryConsulBackend

import resultstore
from resultstore import states
from resultstore.backend import ResultBackend
from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.spec import Capability
from resultstore.waiting import waiter
from resultstore_consul import ConsulConfig, ConsulStore
from resultstore_consul.kv import ConsulHTTPError, entry_blob, is_transient

STANDIN_ONLY = "reads the stand-in's state (RESULTSTORE_TEST_CONSUL_URL is set)"


@pytest.fixture
def backend(consul_url: str) -> Iterator[ResultBackend]:
    opened = resultstore.connect(consul_url)
    yield opened
    opened.close()


def _store(backend: ResultBackend) -> ConsulStore:
    assert isinstance(backend.store, ConsulStore)
    return backend.store


def _entry(store: ConsulStore, key: str) -> dict[str, Any]:
    response = store.client.get(store.kv_path(store.name(key)))
    response.raise_for_status()
    return dict(response.json()[0])


def _celery(url: str, **conf: Any) -> CeleryConsulBackend:
    app = Celery("consul-interop", set_as_current=False)
    app.conf.update(conf)
    return CeleryConsulBackend(app=app, url=url)


class Requests:
    """Counts the HTTP requests of a store's client (round trips of the hot paths)."""

    def __init__(self, store: ConsulStore) -> None:
        self.seen: list[str] = []
        store.client.event_hooks["request"].append(lambda r: self.seen.append(
            f"{r.method} {r.url.path.split('/')[2]}"))

    def count(self, func: Any, *args: Any) -> list[str]:
        self.seen.clear()
        func(*args)
        return list(self.seen)


# -- URLs --------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "expected"), [
    ("consul://", ("localhost", 8500, None, "")),
    ("consul://h:8501", ("h", 8501, None, "")),
    ("consul://h/", ("h", 8500, None, "")),
    ("consul://h/a/b?one_client=1", ("h", 8500, "a/b", "a/b/")),
])
def test_url_is_read_as_celery_reads_it(url: str, expected: tuple[Any, ...]) -> None:
    config = ConsulConfig.from_url(url, Settings())
    assert (config.host, config.port, config.path, config.prefix) == expected


def test_options_and_the_token_never_shown() -> None:
    config = ConsulConfig.from_url("consul://h/p?consistency=stale&timeout=5",
                                   Settings({"consul_token": "t0ken", "consul_dc": "dc2"}))
    assert (config.consistency, config.timeout, config.dc) == ("stale", 5.0, "dc2")
    assert "t0ken" not in repr(config) and "t0ken" not in config.as_uri(include_password=True)


@pytest.mark.parametrize(("url", "message"), [
    ("redis://h", "Not a consul"), ("consul://u:p@h", "no credentials"),
    ("consul://h:x", "port"), ("consul://h?nope=1", "Unknown"),
    ("consul://h?consistency=eventual", "consistency"), ("consul://h?timeout=-1", "positive"),
])
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        ConsulConfig.from_url(url, Settings())


def test_celery_loads_our_class_by_url(consul_url: str) -> None:
    from resultstore_consul.host import ConsulBackend

    app = Celery("consul-load", set_as_current=False, backend=consul_url)
    assert type(app.backend) is ConsulBackend


# -- layout and Celery's backend today -----------------------------------------------------
def test_keys_are_celerys_held_by_a_delete_session(backend: ResultBackend) -> None:
    store = _store(backend)
    backend.mark_as_done("t1", {"v": 1})
    entry = _entry(store, "celery-task-meta-t1")
    assert entry["Key"] == store.config.prefix + "celery-task-meta-t1"
    assert base64.b64decode(entry["Value"]).startswith(b'{"status": "SUCCESS"')
    info = store.client.get(f"/v1/session/info/{entry['Session']}").json()[0]
    assert (info["Name"], info["Behavior"]) == (entry["Key"], "delete")
    assert abs(entry["Flags"] / 1000 - (time.time() + 86400)) < 60  # our exact expiry


def test_a_destroyed_session_deletes_the_result(backend: ResultBackend) -> None:
    """The native expiry: Consul deletes the key when its session ends (here: destroyed,
    as a passed TTL would)."""
    store = _store(backend)
    backend.mark_as_done("t2", 2)
    session = _entry(store, "celery-task-meta-t2")["Session"]
    store.client.put(f"/v1/session/destroy/{session}").raise_for_status()
    assert backend.get_task_meta("t2", cache=False)["status"] == states.PENDING


def test_celerys_second_write_is_lost_ours_is_not(consul_url: str, backend: ResultBackend) -> None:
    """Celery acquires the key with a new session on every write; Consul refuses to move a
    lock held by another session, so STARTED (or RETRY) then SUCCESS keeps STARTED there.
    Ours moves the key to the new session in one transaction."""
    celery = _celery(consul_url)
    celery.store_result("c1", None, states.STARTED)
    celery.mark_as_done("c1", 42)
    assert celery.get_task_meta("c1")["status"] == states.STARTED  # Celery 5.7, today
    backend.mark_as_done("c1", 42)  # ours, over the key Celery's session holds
    assert celery.get_task_meta("c1")["result"] == 42
    backend.store_result("o1", None, states.STARTED)
    backend.mark_as_done("o1", 43)
    assert backend.get_task_meta("o1", cache=False)["result"] == 43
    assert celery.get_task_meta("o1")["result"] == 43


@pytest.mark.parametrize("expires", [5, 200000])
def test_lifetimes_consul_sessions_cannot_hold(consul_url: str, expires: int) -> None:
    """Consul's session TTLs are 10 s to 24 h; Celery (python-consul2) fails outside with an
    AssertionError, ours raises short ones to 10 s (reads honour the exact expiry) and keeps
    long ones without a session (``cleanup`` deletes them)."""
    with pytest.raises(AssertionError):
        _celery(consul_url, result_expires=expires).mark_as_done("c2", 1)
    ours = resultstore.connect(consul_url, result_expires=expires)
    try:
        ours.mark_as_done("o2", 1)
        assert ours.get_task_meta("o2", cache=False)["result"] == 1
        entry = _entry(_store(ours), "celery-task-meta-o2")
        assert bool(entry.get("Session")) is (expires < 86400)
    finally:
        ours.close()


def test_hostile_entries_read_as_absent() -> None:
    for entry in [None, [], {"Value": 3}, {"Value": "!!not base64"}, {"Value": {"x": 1}}]:
        assert entry_blob(entry) is None
    blob = entry_blob({"Value": None, "ModifyIndex": True, "Flags": "soon"})
    assert blob is not None and (blob.data, blob.version, blob.expires) == (b"", None, None)


# -- round trips --------------------------------------------------------------------------
def test_round_trips(backend: ResultBackend) -> None:
    store = _store(backend)
    requests = Requests(store)
    # a result: a session, then one transaction (create if absent + lock with the session)
    assert requests.count(backend.mark_as_done, "r1", 1) == ["PUT session", "PUT txn"]
    assert requests.count(store.set, "plain", b"v", 60) == ["PUT session", "PUT kv"]
    ids = [f"m{i}" for i in range(100)]
    backend.store.set_many({backend.keys.task(t): backend.encode(
        {"status": "SUCCESS", "result": t, "task_id": t}) for t in ids}, 60)
    assert requests.count(backend.get_many, ids) == ["PUT txn", "PUT txn"]  # 64 per transaction
    assert requests.count(store.delete_many, [backend.keys.task(t) for t in ids]) == [
        "PUT txn", "PUT txn"]
    backend.store_result("r2", None, states.STARTED)
    assert requests.count(backend.mark_as_done, "r2", 2) == [  # held by STARTED's session:
        "PUT session", "PUT txn", "GET kv", "PUT txn"]  # create refused, read, check+move


def test_success_is_kept_by_check_index(backend: ResultBackend) -> None:
    backend.mark_as_done("k1", "ok")
    backend.mark_as_failure("k1", ValueError("late"))
    assert backend.get_task_meta("k1", cache=False)["result"] == "ok"
    assert Capability.GUARDED_SET in backend.capabilities


# -- push ---------------------------------------------------------------------------------
def test_waits_are_pushed_by_blocking_queries(backend: ResultBackend) -> None:
    assert Capability.SUBSCRIBE in backend.capabilities
    task_id = str(uuid.uuid4())
    timer = threading.Timer(0.3, backend.mark_as_done, (task_id, "pushed"))
    timer.start()
    started = time.monotonic()
    meta = waiter(backend).wait(task_id, timeout=10, interval=30)  # a poll would take 30 s
    timer.join()
    assert meta["result"] == "pushed" and time.monotonic() - started < 10


def test_watch_off_polls(consul_url: str) -> None:
    polling = resultstore.connect(consul_url + "?watch=false")
    try:
        assert Capability.SUBSCRIBE not in polling.capabilities
    finally:
        polling.close()


# -- errors --------------------------------------------------------------------------------
def test_server_errors_are_transient_client_errors_are_not() -> None:
    assert is_transient(ConsulHTTPError(500, "no leader", "GET"))
    assert is_transient(ConsulHTTPError(429, "rate limited", "GET"))
    assert not is_transient(ConsulHTTPError(403, "ACL not found", "GET"))
    assert is_transient(httpx.ConnectError("refused"))


def test_unreachable_agent_is_a_clear_error() -> None:
    from resultstore.testing.servers import free_port

    backend = resultstore.connect(f"consul://127.0.0.1:{free_port()}/x",
                                  consul_token="s3cret", result_backend_always_retry=False)
    try:
        with pytest.raises(resultstore.errors.BackendGetMetaError) as info:
            backend.get_task_meta("t")
        assert isinstance(info.value.__cause__ or info.value.__context__, httpx.ConnectError)
        assert "s3cret" not in f"{info.value} {backend!r} {backend.as_uri()}"
    finally:
        backend.close()


def test_resultstore_backends_lists_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from resultstore.cli import main

    main(["backends", "--json"])
    row = {r["alias"]: r for r in json.loads(capsys.readouterr().out)}["consul"]
    assert (row["target"], row["distribution"], row["error"]) == (
        "resultstore_consul.host:ConsulBackend", "resultstore-consul", None)
    assert row["replaces"] == "celery.backends.consul:ConsulBackend"
    assert row["store"] == "resultstore_consul.store:ConsulStore"
    assert {"subscribe", "chord_add", "guarded_set", "batch"} <= set(row["capabilities"])
