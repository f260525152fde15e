"""MongoStore specifics: URLs and settings, expiry, batching, guarded writes, push, asyncio."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from mongodb_standin import MongoTarget
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

import resultstore
from resultstore import states
from resultstore.errors import BackendStoreError, ImproperlyConfigured, NotSupported, SecurityError
from resultstore.testing import CallCounter
from resultstore.waiting import waiter
from resultstore_mongodb import MongoConfig, MongoStore
from resultstore_mongodb.push import ChangeStreamSubscriber
from resultstore_mongodb.store import TTL_INDEX

MakeBackend = Callable[..., resultstore.ResultBackend]


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ours(open_mongodb: MakeBackend, mongodb_url: str) -> MakeBackend:
    return functools.partial(open_mongodb, mongodb_url)


def _store(backend: resultstore.ResultBackend) -> MongoStore:
    assert isinstance(backend.store, MongoStore)
    return backend.store


# -- URLs and settings ---------------------------------------------------------------------------
def test_url_forms_as_celery() -> None:
    settings = resultstore.Settings()
    plain = MongoConfig.from_url("mongodb://", settings)
    assert (plain.url, plain.database, plain.taskmeta_collection, plain.groupmeta_collection) == (
        "mongodb://localhost", "celery", "celery_taskmeta", "celery_groupmeta")
    assert plain.client_kwargs() == {"maxPoolSize": 10, "host": "mongodb://localhost"}
    auth = MongoConfig.from_url("mongodb://us%40r:p%2Fss@h1:27017,h2:27018/results?authSource=admin"
                                "&replicaSet=rs0", settings)
    assert (auth.user, auth.password, auth.database) == ("us@r", "p/ss", "results")
    assert auth.client_kwargs()["host"].endswith("?authSource=admin&replicaSet=rs0")
    srv = MongoConfig.from_url("srv://u:s3cret@cluster.example.net/db", settings)  # Celery's split
    assert srv.url == "mongodb+srv://u:s3cret@cluster.example.net/db" and srv.database == "db"
    for config, raw in ((auth, "p%2Fss"), (srv, "s3cret")):
        assert raw not in config.as_uri() and config.password not in repr(config)
        assert raw in config.as_uri(include_password=True)
    with pytest.raises(ImproperlyConfigured, match="mongodb"):
        MongoConfig.from_url("redis://h", settings)


def test_backend_settings_override_the_url() -> None:
    settings = resultstore.Settings(mongodb_backend_settings={
        "host": "db.internal", "port": 27019, "user": "app", "password": "pw",
        "database": "jobs", "taskmeta_collection": "tm", "groupmeta_collection": "gm",
        "max_pool_size": 50, "options": {"tls": True}, "connectTimeoutMS": 2000})
    config = MongoConfig.from_url("mongodb://other:1/x", settings)
    assert (config.database, config.taskmeta_collection, config.groupmeta_collection) == (
        "jobs", "tm", "gm")
    assert config.client_kwargs() == {"maxPoolSize": 50, "tls": True, "connectTimeoutMS": 2000,
                                      "host": "mongodb://db.internal:27019", "username": "app",
                                      "password": "pw"}
    with pytest.raises(ImproperlyConfigured, match="dict"):
        MongoConfig.from_url("mongodb://", resultstore.Settings(mongodb_backend_settings=["x"]))


def test_masked_urls_and_malformed_passwords() -> None:
    settings = resultstore.Settings()
    multi = MongoConfig.from_url("mongodb://u:p%40ss@a:1,b:2/db?replicaSet=rs0", settings)
    assert multi.as_uri() == "mongodb://u:**@a:1,b:2/db?replicaSet=rs0"
    with pytest.raises(ImproperlyConfigured, match="percent-encode") as info:
        MongoConfig.from_url("mongodb://u:s3/cr#et@h/db", settings)
    assert "s3/cr#et" not in str(info.value) and "cr#et" not in str(info.value)
    with pytest.raises(ImproperlyConfigured, match="client options") as info:
        MongoStore.from_url("mongodb://u:s3cretpw@h/db?notanoption", settings)
    assert "s3cretpw" not in str(info.value)


def test_no_secret_in_errors_or_reprs(open_mongodb: MakeBackend) -> None:
    backend = open_mongodb("mongodb://app:s3cret@127.0.0.1:1/db?serverSelectionTimeoutMS=200"
                           "&connectTimeoutMS=200", result_backend_always_retry=True,
                           result_backend_max_retries=1,
                           result_backend_base_sleep_between_retries_ms=1)
    text = f"{backend!r} {backend.store!r} {backend.as_uri()}"
    assert "s3cret" not in text and "app:**@" in text
    with pytest.raises(BackendStoreError) as info:
        backend.mark_as_done(_uid(), 1)
    assert "s3cret" not in str(info.value)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_client(ours: MakeBackend) -> None:
    """Celery's prefork children must not share the parent's pymongo client (not fork-safe)."""
    backend = ours()
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, "from the parent")
    parent_client = store.client
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
        pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            fresh = store.client is not parent_client and store.tasks.database.client is store.client
            result = backend.get_task_meta(task_id, cache=False)["result"]
            os.write(write, f"{fresh}:{result}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        assert answer.read() == "True:from the parent"
    assert store.client is parent_client


def test_transient_errors_are_the_retryable_ones() -> None:
    store = MongoStore.__new__(MongoStore)  # only the predicate is exercised
    assert store.exception_safe_to_retry(AutoReconnect("lost"))
    assert store.exception_safe_to_retry(OperationFailure("conflict", code=112))
    assert not store.exception_safe_to_retry(OperationFailure("unauthorized", code=13))
    assert not store.exception_safe_to_retry(DuplicateKeyError("dup"))
    assert not store.exception_safe_to_retry(ValueError("x"))


# -- expiry ----------------------------------------------------------------------------------------
def test_ttl_index_on_date_done_beside_celerys(ours: MakeBackend) -> None:
    fresh = {"taskmeta_collection": f"tm_{uuid.uuid4().hex[:8]}",
             "groupmeta_collection": f"gm_{uuid.uuid4().hex[:8]}"}
    backend = ours(result_expires=3600, result_failure_expires=7200, mongodb_backend_settings=fresh)
    store = _store(backend)
    store.tasks.create_index("date_done", background=True)  # what Celery's MongoBackend creates
    backend.mark_as_done(_uid(), 1)
    backend.save_group(_uid(), [["g", None], []])
    indexes = {i["name"]: i for i in store.tasks.list_indexes()}
    assert "date_done_1" in indexes
    ttl = indexes[TTL_INDEX]
    assert (dict(ttl["key"]), ttl["expireAfterSeconds"]) == ({"date_done": 1}, 7200)
    assert ttl["partialFilterExpression"] == {"date_done": {"$type": "date"}}
    group_ttl = {i["name"]: i for i in store.groups.list_indexes()}[TTL_INDEX]
    assert group_ttl["expireAfterSeconds"] == 3600


def test_expired_results_are_hidden_before_the_ttl_monitor_runs(ours: MakeBackend) -> None:
    now = [datetime.now(timezone.utc)]
    backend = ours(result_expires=60, result_failure_expires=600)
    store = _store(backend)
    store.clock = lambda: now[0]
    done, failed = _uid(), _uid()
    backend.mark_as_done(done, 1)
    backend.mark_as_failure(failed, ValueError("x"))
    store.tasks.update_many({"_id": {"$in": [done, failed]}},  # written 2 minutes ago
                            {"$set": {"date_done": now[0] - timedelta(minutes=2)}})
    metas = backend.get_many([done, failed], cache=False)
    assert (metas[done]["status"], metas[failed]["status"]) == (states.PENDING, states.FAILURE)
    backend.mark_as_failure(done, ValueError("after expiry"))  # an expired SUCCESS no longer guards
    assert backend.get_task_meta(done, cache=False)["status"] == states.FAILURE


def test_cleanup_deletes_by_state_lifetime(ours: MakeBackend) -> None:
    backend = ours(result_expires=60, result_failure_expires=600)
    store = _store(backend)
    old = datetime.now(timezone.utc) - timedelta(minutes=5)
    ids = {name: _uid() for name in ("done", "failed", "started")}
    backend.mark_as_done(ids["done"], 1)
    backend.mark_as_failure(ids["failed"], ValueError("x"))
    backend.mark_as_started(ids["started"])
    store.tasks.update_many({"_id": {"$in": [ids["done"], ids["failed"]]}},
                            {"$set": {"date_done": old}})
    assert backend.cleanup() >= 1
    left = {d["_id"] for d in store.tasks.find({"_id": {"$in": list(ids.values())}})}
    assert left == {ids["failed"], ids["started"]}  # FAILUREs live 10 min; unready kept (Celery)


# -- batching and guarded writes --------------------------------------------------------------------
def test_batched_reads_are_one_query_per_1000(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    ids = [_uid() for _ in range(1200)]
    for task_id in ids[:5]:
        backend.mark_as_done(task_id, task_id)
    with CallCounter(store.tasks).install(("find", "find_one")) as counter:
        metas = backend.get_many(ids, cache=False)
    assert counter.calls["find"] == 2 and counter.calls["find_one"] == 0
    assert [metas[t]["result"] for t in ids[:5]] == ids[:5]
    assert metas[ids[-1]]["status"] == states.PENDING


def test_store_is_one_conditional_write(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, 1)  # creates the indexes
    with CallCounter(store.tasks).install(("replace_one", "find_one")) as counter:
        backend.mark_as_failure(task_id, ValueError("late"))  # kept: DuplicateKeyError, retried once
        backend.mark_as_done(_uid(), 2)
    assert counter.calls["find_one"] == 0 and counter.calls["replace_one"] == 3


def test_unencodable_result_is_a_clear_error(ours: MakeBackend) -> None:
    backend = ours(result_serializer="pickle", result_accept_content=["pickle"], result_extended=True)
    from types import SimpleNamespace

    request = SimpleNamespace(task="t", args=[object()], kwargs={}, hostname="h", retries=0,
                              delivery_info=None)
    with pytest.raises(BackendStoreError, match="cannot store"):
        backend.mark_as_done(_uid(), 1, request=request)  # args are plain BSON, as Celery's


def test_compressed_results_cross_read_with_celery(ours: MakeBackend, mongodb_url: str) -> None:
    from celery import Celery
    from celery.backends.mongodb import MongoBackend as CeleryMongoBackend

    app = Celery("compressed", set_as_current=False)
    app.conf.result_compression = "zlib"
    celery_side = CeleryMongoBackend(app=app, url=mongodb_url)
    backend = ours(result_compression="zlib")
    theirs, mine = _uid(), _uid()
    celery_side.mark_as_done(theirs, "x" * 1000)
    backend.mark_as_done(mine, "y" * 1000)
    assert backend.get_task_meta(theirs)["result"] == "x" * 1000
    assert celery_side.get_task_meta(mine)["result"] == "y" * 1000
    raw = _store(backend).tasks.find_one({"_id": mine})["result"]
    assert isinstance(raw, bytes) and raw.startswith(b"\x00celery-compressed\x00")


@pytest.mark.parametrize("document", [
    {"status": "SUCCESS", "result": {"$where": "x"}},           # native BSON where text belongs
    {"status": "SUCCESS", "result": 5},
    {"result": "1"},                                           # no status
    {"status": ["SUCCESS"], "result": "1"},
    {"status": "SUCCESS", "result": "{not json"},
    {"status": "FAILURE", "result": '{"exc_type": "system", "exc_module": "os", "exc_message": []}'},
])
def test_hostile_documents_are_typed_errors(ours: MakeBackend, document: dict[str, Any]) -> None:
    from resultstore.errors import BackendGetMetaError, DecodeError, SecurityError

    backend = ours()
    store = _store(backend)
    task_id = _uid()
    store.tasks.insert_one({"_id": task_id, **document})
    with pytest.raises((BackendGetMetaError, DecodeError, SecurityError)) as info:
        backend.get_task_meta(task_id)
    error = info.value
    assert isinstance(error, (DecodeError, SecurityError)) or isinstance(
        error.__cause__, (DecodeError, SecurityError))


# -- chords --------------------------------------------------------------------------------------
class _Operations:
    """Counts collection operations our code issues (mongomock's internal calls of its own
    methods, e.g. ``find_one`` -> ``find``, are not counted: one count per outermost call)."""

    NAMES = ("find", "find_one", "find_one_and_update", "replace_one", "update_one",
             "delete_many", "delete_one")

    def __init__(self, *collections: Any) -> None:
        self.count = 0
        self._depth = threading.local()
        self._patched: list[tuple[Any, str]] = []
        for collection in collections:
            for name in self.NAMES:
                setattr(collection, name, self._wrap(getattr(collection, name)))
                self._patched.append((collection, name))

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            if depth == 0:
                self.count += 1
            self._depth.n = depth + 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth.n = depth
        return call

    def remove(self) -> None:
        for collection, name in self._patched:
            delattr(collection, name)


def test_chord_part_round_trips(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    group_id = _uid()
    backend.set_chord_size(group_id, 2)
    ops = _Operations(store.chord_docs, store.part_docs)
    try:
        backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1)
        first = ops.count
        assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is not None
        last = ops.count - first
    finally:
        ops.remove()
    assert first == 2  # part upsert + counting update
    assert last == 5  # the same two, the claim, then the parts: members, one $in query

def test_chord_grow_late_duplicates_and_clear(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    group_id = _uid()
    backend.set_chord_size(group_id, 1)
    backend.add_to_chord(group_id)
    assert backend.chord_part_return(group_id, "a", None, states.SUCCESS, "late-index") is None
    parts = backend.chord_part_return(group_id, "b", 0, states.SUCCESS, "first")
    assert parts is not None and [p.result for p in parts] == ["first", "late-index"]
    backend.chord_done(group_id)
    key = backend.keys.group(group_id)
    assert store.part_docs.count_documents({"chord": key}) == 0
    assert backend.chord_part_return(group_id, "b", 0, states.SUCCESS, "first") is None  # late copy
    assert {i["name"] for i in store.chord_docs.list_indexes()} >= {TTL_INDEX}


def test_a_lost_response_before_the_claim_still_completes(ours: MakeBackend) -> None:
    """The counting update applied but its caller never heard back (standalone servers have no
    retryable writes): the retried part is a duplicate, finds the chord full, and claims it."""
    backend = ours()
    store = _store(backend)
    group_id = _uid()
    backend.set_chord_size(group_id, 2)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
    real = store.chord_docs.find_one_and_update
    calls: list[int] = []

    def lose_first_response(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise AutoReconnect("response lost")
        return result

    store.chord_docs.find_one_and_update = lose_first_response  # type: ignore[method-assign]
    try:
        parts = ours(result_backend_always_retry=True,
                     result_backend_base_sleep_between_retries_ms=1)
        _store(parts).chord_docs.find_one_and_update = lose_first_response  # type: ignore[method-assign]
        got = parts.chord_part_return(group_id, "b", 1, states.SUCCESS, 2)
    finally:
        del store.chord_docs.find_one_and_update
    assert got is not None and [p.result for p in got] == [1, 2]


# -- push ------------------------------------------------------------------------------------------
def test_standalone_deployments_poll_without_warnings(ours: MakeBackend, mongo: MongoTarget,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    if mongo.real:
        from resultstore_mongodb.push import supports_change_streams

        if supports_change_streams(_store(ours()).client):
            pytest.skip("the real server under test is a replica set: it pushes")
    backend = ours()
    task_id = _uid()
    threading.Timer(0.3, backend.mark_as_done, (task_id, "late")).start()
    with caplog.at_level(logging.INFO, logger="resultstore"):
        assert waiter(backend).wait(task_id, timeout=10, interval=0.05)["result"] == "late"
    assert waiter(backend).push is False  # probed once, then plain polling
    assert not [r for r in caplog.records
                if r.name.startswith("resultstore.") and r.levelno >= logging.WARNING]
    with pytest.raises(NotSupported, match="replica set"):
        _store(backend).subscriber(lambda *_: None, lambda: None)


def test_an_unreachable_server_is_probed_again_later() -> None:
    """Down at the first wait: that wait polls, push stays possible (not decided as 'no')."""
    import pymongo
    from pymongo.errors import ServerSelectionTimeoutError

    from resultstore_mongodb.push import supports_change_streams

    client = pymongo.MongoClient("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200")
    try:
        with pytest.raises(ServerSelectionTimeoutError):
            supports_change_streams(client)
    finally:
        client.close()


class _ScriptedStream:
    """A change stream replaying events (fault injection for the subscriber's own logic)."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.alive = True
        self.resume_token = {"_data": "t0"}

    def try_next(self) -> Any:
        if not self.events:
            time.sleep(0.01)
            return None
        event = self.events.pop(0)
        if isinstance(event, Exception):
            self.alive = False
            raise event
        self.resume_token = {"_data": f"t-{id(event)}"}
        return event

    def close(self) -> None:
        self.alive = False


def test_change_stream_subscriber_delivers_and_resumes(ours: MakeBackend) -> None:
    """Our handling of change events on a scripted stream: delivery of subscribed ids only,
    decoding, reopening with the resume token after an error, then ``on_reconnect``."""
    backend = ours()
    store = _store(backend)
    wanted, other = _uid(), _uid()
    backend.mark_as_done(wanted, "pushed")
    backend.mark_as_done(other, "ignored")
    document = store.tasks.find_one({"_id": wanted})
    first = _ScriptedStream([{"documentKey": {"_id": other}, "fullDocument": store.tasks.find_one(
        {"_id": other})}, AutoReconnect("stepdown")])
    second = _ScriptedStream([{"documentKey": {"_id": wanted}, "fullDocument": document}])
    opened: list[Any] = []

    def watch(pipeline: Any, **kwargs: Any) -> _ScriptedStream:
        opened.append(kwargs.get("resume_after"))
        return first if len(opened) == 1 else second

    store.tasks.watch = watch  # type: ignore[attr-defined]
    received: list[tuple[str, Any]] = []
    reconnected = threading.Event()
    got = threading.Event()
    subscriber = ChangeStreamSubscriber(store, lambda t, m: (received.append((t, m)), got.set()),
                                        reconnected.set)
    subscriber._stream = subscriber._watch(None)
    subscriber.subscribe(wanted)
    subscriber._thread.start()
    try:
        assert got.wait(10) and reconnected.is_set()
    finally:
        subscriber.close()
        del store.tasks.watch  # type: ignore[attr-defined]
    assert [(t, m["result"]) for t, m in received] == [(wanted, "pushed")]
    assert opened == [None, first.resume_token]  # resumed after the last event seen
    assert first.resume_token != {"_data": "t0"}


class _FeedStream(_ScriptedStream):
    """A change stream fed by the test: each write it makes is appended as an event."""

    def try_next(self) -> Any:
        return super().try_next() if self.alive else None


def test_waits_are_woken_by_pushed_metas(ours: MakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Core's waiter with a record store's subscriber: subscribes by task id, takes the meta
    it is handed (exception rebuilt) and returns long before the polling interval.  The
    stream is scripted (mongomock has no change streams); the real one runs on a replica set."""
    import resultstore_mongodb.push as push

    monkeypatch.setattr(push, "supports_change_streams", lambda client: True)
    backend = ours()
    store = _store(backend)
    stream = _FeedStream([])
    monkeypatch.setattr(store.tasks, "watch", lambda *a, **k: stream, raising=False)
    task_id = _uid()

    def finish() -> None:
        writer = ours()
        writer.mark_as_failure(task_id, ValueError("pushed", 1))
        stream.events.append({"documentKey": {"_id": task_id},
                              "fullDocument": _store(writer).tasks.find_one({"_id": task_id})})

    threading.Timer(0.3, finish).start()
    start = time.monotonic()
    meta = waiter(backend).wait(task_id, timeout=10, interval=5.0)  # polling would take 5 s
    assert time.monotonic() - start < 4 and waiter(backend).push is True
    assert meta["status"] == states.FAILURE and type(meta["result"]) is ValueError
    assert meta["result"].args == ("pushed", 1)
    assert waiter(backend).subscribed == frozenset()  # unsubscribed once the wait ended


def test_waits_are_pushed_on_a_replica_set(ours: MakeBackend, needs_real_server: None) -> None:
    backend = ours()
    from resultstore_mongodb.push import supports_change_streams

    if not supports_change_streams(_store(backend).client):
        pytest.skip("the real server under test is standalone (start tests/compose.yaml's replica set)")
    task_id = _uid()
    threading.Timer(0.5, ours().mark_as_done, (task_id, "pushed")).start()
    start = time.monotonic()
    meta = waiter(backend).wait(task_id, timeout=10, interval=5.0)  # polling would take 5 s
    assert meta["result"] == "pushed" and time.monotonic() - start < 4
    assert waiter(backend).push is True


# -- asyncio ---------------------------------------------------------------------------------------
def test_asyncio_reads_use_the_async_client(ours: MakeBackend, mongo: MongoTarget) -> None:
    backend = ours()
    ids = [_uid() for _ in range(3)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)
    backend.mark_as_failure(ids[2], ValueError("x"))  # kept SUCCESS

    async def read() -> tuple[Any, Any]:
        try:
            return await backend.aget_task_meta(ids[0]), await backend.aget_many([*ids, "nope"])
        finally:
            await backend.aclose()

    import pymongo

    if not mongo.real:
        from mongodb_standin import AsyncMongoMockClient

        assert pymongo.AsyncMongoClient is AsyncMongoMockClient
        before = AsyncMongoMockClient.instances
    one, many = asyncio.run(read())
    assert one["result"] == ids[0] and [many[t]["result"] for t in ids] == ids
    assert many["nope"]["status"] == states.PENDING
    if not mongo.real:
        assert AsyncMongoMockClient.instances == before + 1  # one client for the loop


def test_signed_result_copied_to_another_document_is_refused(ours: MakeBackend) -> None:
    """Issue 14 item 3: the ``result`` field is signed for its own task id (and group id)."""
    backend = ours(resultstore_transforms=["hmac-sha256"], resultstore_signing_key="k")
    store = _store(backend)
    source, target = _uid(), _uid()
    backend.mark_as_failure(source, ValueError("for source only"))
    stolen = store.tasks.find_one({"_id": source})
    store.tasks.replace_one({"_id": target}, {**stolen, "_id": target}, upsert=True)
    assert isinstance(backend.get_task_meta(source)["result"], ValueError)
    with pytest.raises(SecurityError):
        backend.get_task_meta(target)
    with pytest.raises(SecurityError):
        backend.get_many([target])
    group, other = _uid(), _uid()
    backend.save_group(group, [[group, None], [[[source, None], None]]])
    copied = store.groups.find_one({"_id": group})
    store.groups.replace_one({"_id": other}, {**copied, "_id": other}, upsert=True)
    assert backend.get_group_meta(group)["result"][0][0] == group
    with pytest.raises(SecurityError):
        backend.get_group_meta(other)
