"""CassandraStore specifics: Celery's settings, statements and levels, TTL, LWT, asyncio."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import cassandra
import pytest
from cassandra import ConsistencyLevel, InvalidRequest, Unauthorized, WriteTimeout, WriteType
from cassandra.cluster import NoHostAvailable
from cassandra_helpers import celery_conf, raw_rows
from cassandra_standin.driver import StandinServer
from celery import Celery
from celery.app.backends import by_url
from celery.backends.cassandra import CassandraBackend as CeleryCassandraBackend

import resultstore
from resultstore import states
from resultstore.errors import BackendStoreError, ImproperlyConfigured, SecurityError
from resultstore.testing.races import guarded_writes_keep_success
from resultstore_cassandra import CassandraStore
from resultstore_cassandra.host import CassandraBackend

MakeBackend = Callable[..., resultstore.ResultBackend]
BASE = {"cassandra_servers": ["10.1.1.1", "10.1.1.2"], "cassandra_keyspace": "ks",
        "cassandra_table": "results"}


def _uid() -> str:
    return str(uuid.uuid4())


def _store(backend: resultstore.ResultBackend) -> CassandraStore:
    assert isinstance(backend.store, CassandraStore)
    return backend.store


# -- Celery's settings ---------------------------------------------------------------
def test_every_celery_setting_reaches_the_driver(only_standin: StandinServer) -> None:
    only_standin.credentials = {"username": "app", "password": "s3cret"}
    backend = resultstore.connect("cassandra://", **BASE, cassandra_port=19042,
                                  cassandra_auth_provider="PlainTextAuthProvider",
                                  cassandra_auth_kwargs={"username": "app", "password": "s3cret"},
                                  cassandra_options={"protocol_version": 4, "connect_timeout": 3},
                                  cassandra_read_consistency="ONE",
                                  cassandra_write_consistency="QUORUM", cassandra_entry_ttl=120)
    try:
        backend.mark_as_done("t", 1)
        assert backend.get_task_meta("t")["result"] == 1
        cluster = only_standin.clusters[-1]
        assert (cluster.contact_points, cluster.port) == (["10.1.1.1", "10.1.1.2"], 19042)
        assert cluster.options == {"protocol_version": 4, "connect_timeout": 3}
        assert cluster.sessions[0].keyspace == "ks"
        insert, select = only_standin.queries("INSERT INTO results")[-1], \
            only_standin.queries("SELECT status")[-1]
        assert (insert.consistency, select.consistency) == (ConsistencyLevel.QUORUM, ConsistencyLevel.ONE)
        assert "s3cret" not in backend.as_uri() and "s3cret" not in repr(backend.store)
        assert "s3cret" in backend.as_uri(include_password=True)
    finally:
        only_standin.credentials = None
        backend.close()


def test_wrong_credentials_are_reported(only_standin: StandinServer) -> None:
    only_standin.credentials = {"username": "app", "password": "s3cret"}
    backend = resultstore.connect("cassandra://app:nope@127.0.0.1/ks/results")
    try:
        with pytest.raises(BackendStoreError) as caught:
            backend.mark_as_done("t", 1)
        assert isinstance(caught.value.__cause__, NoHostAvailable)
        assert "nope" not in str(caught.value)
    finally:
        only_standin.credentials = None
        backend.close()


def test_secure_bundle_connects_through_cloud_config(only_standin: StandinServer) -> None:
    backend = resultstore.connect("cassandra://", cassandra_secure_bundle_path="/run/bundle.zip",
                                  cassandra_keyspace="ks", cassandra_table="results")
    try:
        backend.mark_as_done("astra", 1)
        assert only_standin.clusters[-1].cloud == {"secure_connect_bundle": "/run/bundle.zip"}
    finally:
        backend.close()


@pytest.mark.parametrize("settings, message", [
    ({}, "needs cassandra_servers"),
    ({**BASE, "cassandra_secure_bundle_path": "/b.zip"}, "not both"),
    ({**BASE, "cassandra_read_consistency": "MOSTLY"}, "cassandra_read_consistency must be"),
    ({**BASE, "cassandra_table": "x; DROP TABLE y"}, "plain CQL identifier"),
    ({**BASE, "cassandra_keep_success": "paxos"}, "cassandra_keep_success must be"),
    ({**BASE, "cassandra_serial_consistency": "QUORUM"}, "SERIAL or LOCAL_SERIAL"),
    ({**BASE, "cassandra_auth_provider": "NoSuchProvider", "cassandra_auth_kwargs": {"a": 1}},
     "not a class of cassandra.auth"),
])
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        CassandraStore.from_url("cassandra://", resultstore.Settings(settings)).config.auth()


def test_celery_loads_the_host_class_with_celerys_kwargs(only_standin: StandinServer) -> None:
    app = Celery("hosted", set_as_current=False)
    cls, _ = by_url("cassandra://", app.loader)
    assert cls is CassandraBackend
    host = cls(app=app, servers=["127.0.0.1"], keyspace="ks", table="hosted", entry_ttl=30)
    store = host.backend.store
    assert isinstance(store, CassandraStore)
    assert (store.config.table, store.config.entry_ttl, store.ttl_for(5)) == ("hosted", 30, 30)
    host.backend.close()


# -- statements ----------------------------------------------------------------------
def test_statements_are_prepared_once_with_ttls(only_standin: StandinServer, fresh_url: str,
                                                open_backend: MakeBackend) -> None:
    backend = open_backend(fresh_url, result_expires=600, result_failure_expires=60)
    table = fresh_url.rsplit("/", 1)[1]
    ok, bad = _uid(), _uid()
    for _ in range(5):
        backend.mark_as_done(ok, 1)
        backend.mark_as_failure(bad, ValueError("x"))
    prepared = [r.cql for r in only_standin.requests if r.kind == "prepare" and table in r.cql]
    assert len(prepared) == len(set(prepared)) == 2  # one SELECT (read before write), one INSERT
    ttl = only_standin.db.table("resultstore_test", table).partitions
    expiries = {status: min(c.expires for row in ttl[(tid,)].rows.values()
                            for name, c in row.cells.items() if name == "status")
                for status, tid in (("ok", ok), ("bad", bad))}
    assert 590 < expiries["ok"] - only_standin.db.clock() <= 600
    assert 50 < expiries["bad"] - only_standin.db.clock() <= 60


def test_rows_expire_with_the_native_ttl(only_standin: StandinServer, fresh_url: str,
                                         open_backend: MakeBackend) -> None:
    backend, task_id = open_backend(fresh_url, result_expires=30), _uid()
    backend.mark_as_done(task_id, 1)
    only_standin.clock_offset += 31
    try:
        assert backend.get_task_meta(task_id)["status"] == states.PENDING
    finally:
        only_standin.clock_offset -= 31


def test_get_many_reads_concurrently_not_with_in(only_standin: StandinServer, fresh_url: str,
                                                 open_backend: MakeBackend) -> None:
    backend = open_backend(fresh_url)
    ids = [_uid() for _ in range(50)]
    backend.mark_as_done(ids[0], 0)
    before = len(only_standin.queries())
    metas = backend.get_many(ids)
    selects = only_standin.queries()[before:]
    assert len(selects) == 50 and all(" IN " not in r.cql for r in selects)
    assert metas[ids[0]]["result"] == 0 and metas[ids[1]]["status"] == states.PENDING


def test_asyncio_reads_use_driver_futures_not_threads(fresh_url: str, open_backend: MakeBackend,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_backend(fresh_url)
    ids = [_uid() for _ in range(20)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)

    def no_threads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("asyncio.to_thread was used")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)

    async def read() -> tuple[Any, Any, Any]:
        return (await backend.aget_task_meta(ids[0]), await backend.aget_many(ids),
                await backend.aget_task_meta(_uid()))

    one, many, unknown = asyncio.run(read())
    assert one["result"] == ids[0] and [many[t]["result"] for t in ids] == ids
    assert unknown["status"] == states.PENDING


def test_transient_errors_are_retried_invalid_requests_are_not(fresh_url: str) -> None:
    store = CassandraStore.from_url(fresh_url, resultstore.Settings())
    assert store.exception_safe_to_retry(NoHostAvailable("down", {}))
    assert store.exception_safe_to_retry(WriteTimeout("slow", write_type=WriteType.SIMPLE))
    assert store.exception_safe_to_retry(cassandra.OperationTimedOut())
    assert not store.exception_safe_to_retry(InvalidRequest("bad"))
    assert not store.exception_safe_to_retry(Unauthorized("no"))


def test_without_alter_permission_it_works_without_its_columns(
        only_standin: StandinServer, fresh_url: str, open_backend: MakeBackend,
        caplog: pytest.LogCaptureFixture) -> None:
    app = Celery("owner", set_as_current=False)
    app.conf.update(celery_conf(fresh_url))
    celery = CeleryCassandraBackend(app=app)
    celery.mark_as_done("by-celery", 1)  # Celery's table: no resultstore columns
    only_standin.fail = lambda cql: Unauthorized("no ALTER") if cql.startswith("ALTER") else None
    try:
        with caplog.at_level(logging.WARNING):
            backend = open_backend(fresh_url, result_extended=True)
            backend.mark_as_done("ours", 2, request=type("R", (), {"parent_id": "p", "group": "g"})())
    finally:
        only_standin.fail = lambda cql: None
    assert "Cannot add column parent_id" in caplog.text
    assert backend.get_task_meta("ours")["result"] == 2
    assert backend.get_task_meta("by-celery")["result"] == 1
    celery._cluster.shutdown()


# -- keeping a SUCCESS ---------------------------------------------------------------------
def test_default_mode_race_resolves_to_success_for_our_readers(open_backend: MakeBackend,
                                                               fresh_url: str) -> None:
    """No LWT: a FAILURE racing the SUCCESS may land as a newer row, but reads prefer SUCCESS."""
    guarded_writes_keep_success([open_backend(fresh_url) for _ in range(4)], rounds=5)


def test_lwt_mode_refuses_late_writes_so_celery_sees_success(
        only_standin: StandinServer, open_backend: MakeBackend, fresh_url: str) -> None:
    backend = open_backend(fresh_url, cassandra_keep_success="lwt")
    task_id = _uid()
    backend.mark_as_started(task_id)
    backend.mark_as_done(task_id, "ok")
    backend.store.set_meta_unless_success(  # a late FAILURE from a second worker
        task_id, {"status": states.FAILURE, "result": {"exc_type": "ValueError",
                                                       "exc_message": ["late"], "exc_module": "builtins"},
                  "traceback": None, "children": None, "date_done": None})
    assert [r["status"] for r in raw_rows(fresh_url, task_id)] == ["SUCCESS", "STARTED"]
    table = fresh_url.rsplit("/", 1)[1]
    lwt = [r for r in only_standin.queries("IF resultstore_success = null") if f" {table} " in r.cql]
    assert len(lwt) == 3 and all(r.serial == ConsistencyLevel.LOCAL_SERIAL for r in lwt)
    app = Celery("reader", set_as_current=False)
    app.conf.update(celery_conf(fresh_url))
    celery = CeleryCassandraBackend(app=app)
    assert celery.get_task_meta(task_id)["result"] == "ok"
    celery._cluster.shutdown()


def test_lwt_mode_needs_its_guard_column(only_standin: StandinServer, fresh_url: str,
                                         open_backend: MakeBackend) -> None:
    only_standin.fail = lambda cql: (Unauthorized("no ALTER")
                                     if cql.startswith(("ALTER", "CREATE")) else None)
    table = fresh_url.rsplit("/", 1)[1]
    only_standin.db.run("resultstore_test", f"CREATE TABLE {table} (task_id text, status text, "
                        f"result blob, date_done timestamp, traceback blob, children blob, "
                        f"PRIMARY KEY ((task_id), date_done))", None)
    try:
        backend = open_backend(fresh_url, cassandra_keep_success="lwt")
        with pytest.raises(BackendStoreError, match="needs the static column"):
            backend.mark_as_done(_uid(), 1)
    finally:
        only_standin.fail = lambda cql: None


def test_host_pickles_with_celerys_constructor_arguments(only_standin: StandinServer) -> None:
    import pickle

    from celery import _state

    previous = _state.get_current_app()
    app = Celery("pickled", set_as_current=True)
    host = CassandraBackend(app=app, servers=["127.0.0.1"], keyspace="ks", table="pickled",
                            entry_ttl=30)
    again = pickle.loads(pickle.dumps(host))
    try:
        assert isinstance(again, CassandraBackend)
        assert (again.backend.store.config.table, again.backend.store.config.entry_ttl) == ("pickled", 30)
    finally:
        host.backend.close()
        again.backend.close()
        _state._set_current_app(previous)


@pytest.mark.parametrize("mode, per_write", [("read", 2), ("lwt", 1)])
def test_round_trips_per_write_and_read(only_standin: StandinServer, open_backend: MakeBackend,
                                        fresh_url: str, mode: str, per_write: int) -> None:
    """Default: Celery's read-before-write (2 requests); lwt: one conditional write (a Paxos
    round on a real server). A read is one request; nothing is re-prepared."""
    backend, task_id = open_backend(fresh_url, cassandra_keep_success=mode), _uid()
    warm = _uid()
    backend.mark_as_done(warm, 0)  # connects, prepares
    backend.get_task_meta(warm)
    backend.mark_as_started(task_id)
    before = len(only_standin.requests)
    backend.mark_as_done(task_id, 1)
    assert len(only_standin.requests) - before == per_write, only_standin.requests[before:]
    before = len(only_standin.requests)
    backend.get_task_meta(task_id)
    assert len(only_standin.requests) - before == 1


def test_batched_reads_overlap_their_round_trips(only_standin: StandinServer, fresh_url: str,
                                                 open_backend: MakeBackend) -> None:
    """With an emulated 10 ms round trip, a join keeps its reads in flight together; Celery's
    Cassandra backend has no batched read, so its join sends one read after another."""
    import time

    from celery.result import AsyncResult as CeleryAsyncResult
    from celery.result import ResultSet as CeleryResultSet

    backend, ids = open_backend(fresh_url), [_uid() for _ in range(50)]
    for task_id in ids:
        backend.mark_as_done(task_id, 1)
    app = Celery("joiner", set_as_current=False)
    app.conf.update(celery_conf(fresh_url))
    celery = CeleryCassandraBackend(app=app)
    celery.get_task_meta(ids[0])  # connect outside the measurement
    only_standin.latency = 0.01
    try:
        only_standin.max_in_flight = 0
        started = time.monotonic()
        assert [m["result"] for m in backend.get_many(ids).values()] == [1] * 50
        ours, ours_depth = time.monotonic() - started, only_standin.max_in_flight
        only_standin.max_in_flight = 0
        started = time.monotonic()
        joined = CeleryResultSet([CeleryAsyncResult(t, app=app, backend=celery) for t in ids])
        assert joined.join(interval=0.01) == [1] * 50
        theirs, theirs_depth = time.monotonic() - started, only_standin.max_in_flight
    finally:
        only_standin.latency = 0.0
        celery._cluster.shutdown()
    print(f"\n[cassandra stand-in, 10 ms round trip] join of 50: resultstore {ours:.3f} s "
          f"({ours_depth} in flight), Celery {theirs:.3f} s ({theirs_depth} in flight)")
    assert ours_depth >= 10 and theirs_depth == 1


def test_execution_profiles_in_cassandra_options(only_standin: StandinServer, fresh_url: str,
                                                 open_backend: MakeBackend) -> None:
    """The driver forbids setting the session's row factory when profiles are configured:
    the store then runs on a clone of the default profile that returns dicts."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
    from cassandra.query import tuple_factory

    options = {"execution_profiles": {EXEC_PROFILE_DEFAULT: ExecutionProfile(row_factory=tuple_factory)}}
    backend, task_id = open_backend(fresh_url, cassandra_options=options), _uid()
    backend.mark_as_done(task_id, {"x": 1})
    assert backend.get_task_meta(task_id)["result"] == {"x": 1}
    assert backend.get_many([task_id])[task_id]["result"] == {"x": 1}
    assert asyncio.run(backend.aget_task_meta(task_id, cache=False))["result"] == {"x": 1}
    assert set(only_standin.clusters[-1].profiles) == {EXEC_PROFILE_DEFAULT, "resultstore"}
    app = Celery("profiles", set_as_current=False)
    app.conf.update(celery_conf(fresh_url, cassandra_options=options))
    celery = CeleryCassandraBackend(app=app)
    assert celery.get_task_meta(task_id)["result"] == {"x": 1}
    celery._cluster.shutdown()


def test_unavailable_replicas_are_retried_with_always_retry(only_standin: StandinServer,
                                                            fresh_url: str,
                                                            open_backend: MakeBackend) -> None:
    backend, task_id = open_backend(fresh_url, result_backend_always_retry=True,
                                    result_backend_max_retries=5,
                                    result_backend_base_sleep_between_retries_ms=1), _uid()
    backend.mark_as_started(task_id)  # connected and prepared
    failures = iter([cassandra.Unavailable("2 replicas needed", consistency=6,
                                           required_replicas=2, alive_replicas=1)] * 2)
    only_standin.fail = lambda cql: next(failures, None) if cql.startswith("INSERT") else None
    try:
        backend.mark_as_done(task_id, 7)
    finally:
        only_standin.fail = lambda cql: None
    assert backend.get_task_meta(task_id)["result"] == 7
    only_standin.fail = lambda cql: InvalidRequest("bad") if cql.startswith("INSERT") else None
    try:
        with pytest.raises(BackendStoreError):
            backend.mark_as_done(_uid(), 8)
    finally:
        only_standin.fail = lambda cql: None


def test_url_fills_unset_settings_and_settings_win() -> None:
    from resultstore_cassandra import CassandraConfig

    config = CassandraConfig.from_settings(
        "cassandra://app:p%40ss@10.0.0.1,10.0.0.2:9142/results/celery_results", resultstore.Settings())
    assert (config.servers, config.port, config.keyspace, config.table) == (
        ("10.0.0.1", "10.0.0.2"), 9142, "results", "celery_results")
    assert config.auth_kwargs == {"username": "app", "password": "p@ss"}
    assert config.as_uri() == "cassandra://app:**@10.0.0.1,10.0.0.2:9142/results/celery_results"
    config = CassandraConfig.from_settings(
        "cassandra://10.0.0.1/results/t", resultstore.Settings({**BASE, "cassandra_port": 9000}))
    assert (config.servers, config.port, config.keyspace, config.table) == (
        ("10.1.1.1", "10.1.1.2"), 9000, "ks", "results")


def test_signed_result_copied_to_another_row_is_refused(open_backend: MakeBackend,
                                                        fresh_url: str) -> None:
    """Issue 14 item 3: column values are signed for their own task id (and group id)."""
    backend = open_backend(fresh_url, resultstore_transforms=["hmac-sha256"],
                           resultstore_signing_key="k")
    store = _store(backend)
    table = store.config.table
    source, target = _uid(), _uid()
    backend.mark_as_failure(source, ValueError("for source only"))
    read = store.statement(f"SELECT result FROM {table} WHERE task_id = ?", write=False)
    stolen = store.run(read, (source,)).one()["result"]
    write = store.statement(f"INSERT INTO {table} (task_id, status, result, date_done) "
                            f"VALUES (?, ?, ?, ?) USING TTL ?", write=True)
    store.run(write, (target, states.FAILURE, stolen, datetime.now(timezone.utc), 0))
    assert isinstance(backend.get_task_meta(source)["result"], ValueError)
    with pytest.raises(SecurityError):
        backend.get_task_meta(target)
    with pytest.raises(SecurityError):
        backend.get_many([target])
    group, other = _uid(), _uid()
    backend.save_group(group, [[group, None], [[[source, None], None]]])
    read = store.statement(f"SELECT result FROM {table}_group WHERE group_id = ?", write=False)
    copied = store.run(read, (group,)).one()["result"]
    write = store.statement(f"INSERT INTO {table}_group (group_id, result, date_done) "
                            f"VALUES (?, ?, ?) USING TTL ?", write=True)
    store.run(write, (other, copied, datetime.now(timezone.utc), 0))
    assert backend.get_group_meta(group)["result"][0][0] == group
    with pytest.raises(SecurityError):
        backend.get_group_meta(other)
