"""resultstore-couchdb specifics on the real server: URL forms, layout, round trips, errors, push, asyncio."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from celery import Celery
from celery.backends.couchdb import CouchBackend

import resultstore
from resultstore import states
from resultstore.backend import ResultBackend
from resultstore.errors import BackendError, BackendStoreError, ImproperlyConfigured
from resultstore.spec import Capability
from resultstore.waiting import waiter
from resultstore_couchdb import CouchDBConfig, CouchDBHTTPError, CouchDBStore
from resultstore_couchdb.aio import AsyncCouchDBStore
from resultstore_couchdb.changes import ChangesSubscriber
from resultstore_couchdb.docs import decode_doc
from resultstore_couchdb.host import CouchDBBackend


@pytest.fixture
def backend(couchdb_url: str) -> Iterator[ResultBackend]:
    opened = resultstore.connect(couchdb_url)
    yield opened
    opened.close()


def _store(backend: ResultBackend) -> CouchDBStore:
    assert isinstance(backend.store, CouchDBStore)
    return backend.store


def _raw(store: CouchDBStore, name: str) -> dict[str, Any]:
    response = store.client.get(store.path(name))
    response.raise_for_status()
    return dict(response.json())


class Requests:
    """Counts the HTTP requests of a store's client (round trips of the hot paths)."""

    def __init__(self, store: CouchDBStore) -> None:
        self.seen: list[str] = []
        store.client.event_hooks["request"].append(self._hook)

    def _hook(self, request: httpx.Request) -> None:
        self.seen.append(f"{request.method} {request.url.path.rsplit('/', 1)[-1]}")

    def count(self, func: Any, *args: Any) -> int:
        self.seen.clear()
        func(*args)
        return len(self.seen)


# -- URL and settings ------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "couchdb://",
    "couchdb://couch.example",
    "couchdb://couch.example:6000/results",
    "couchdb://us%40er:p%3Ass@couch.example:5984/res%2Fults",
    "couchdb://user@couch.example/db",
])
def test_url_is_read_as_celery_reads_it(url: str) -> None:
    theirs = CouchBackend(app=Celery(set_as_current=False), url=url)
    ours = CouchDBConfig.from_url(url, resultstore.Settings())
    assert (ours.host, ours.port, ours.database, ours.username, ours.password) == (
        theirs.host, theirs.port, theirs.container, theirs.username, theirs.password)
    assert ours.base_url.startswith(theirs.scheme + "://")


def test_our_options_and_masking() -> None:
    config = CouchDBConfig.from_url("couchdb://admin:s%40cret@h:6984/db?ssl=true&timeout=5",
                                    resultstore.Settings(couchdb_max_connections=3,
                                                         couchdb_changes_feed=False))
    assert (config.ssl, config.timeout, config.max_connections, config.changes_feed) == (
        True, 5.0, 3, False)
    assert config.base_url == "https://h:6984" and config.auth == ("admin", "s@cret")
    assert config.as_uri() == "couchdb://admin:**@h:6984/db?ssl=true"
    assert config.as_uri(include_password=True) == "couchdb://admin:s%40cret@h:6984/db?ssl=true"
    assert "s@cret" not in repr(config) and "s%40cret" not in repr(config)
    store = CouchDBStore(config)
    assert Capability.SUBSCRIBE not in store.capabilities and Capability.CHORD in store.capabilities
    off = CouchDBStore(config, resultstore.Settings(couchdb_conditional_writes=False))
    assert Capability.CHORD not in off.capabilities and Capability.GUARDED_SET not in off.capabilities


@pytest.mark.parametrize("url, message", [
    ("redis://h", "Not a couchdb:// URL"),
    ("couchdb://h:port/db", "port must be a number"),
    ("couchdb://h/db?sll=true", "Unknown couchdb:// URL option 'sll'"),
    ("couchdb://h/db?ssl=maybe", "true or false"),
    ("couchdb://h/db?timeout=-1", "must be positive"),
    ("couchdb://admin:pa/ss#wo?rd@h/db", "percent-encode"),  # Celery would take 'pa' as the host
])
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as refused:
        CouchDBConfig.from_url(url, resultstore.Settings())
    assert "pa/ss" not in str(refused.value) and "wo?rd" not in str(refused.value)


def test_celery_loads_our_class_by_url(couchdb_url: str) -> None:
    app = Celery("t", backend=couchdb_url, set_as_current=False)
    assert type(app.backend) is CouchDBBackend
    assert "**" in app.backend.as_uri() or urlsplit(couchdb_url).password is None


# -- documents ---------------------------------------------------------------------------
def test_documents_are_celerys_plus_our_expiry(couchdb_url: str) -> None:
    expiring = resultstore.connect(couchdb_url, result_expires=60)
    forever = resultstore.connect(couchdb_url, result_expires=0)
    try:
        expiring.mark_as_done("doc-a", {"x": 1})
        forever.mark_as_done("doc-b", 2)
        store = _store(expiring)
        doc = _raw(store, "celery-task-meta-doc-a")
        assert set(doc) == {"_id", "_rev", "value", "resultstore_expires"}
        assert doc["value"].startswith('{"status": "SUCCESS", "result": {"x": 1}')
        assert 50 < doc["resultstore_expires"] - time.time() <= 60
        assert set(_raw(store, "celery-task-meta-doc-b")) == {"_id", "_rev", "value"}
    finally:
        expiring.close()
        forever.close()


def test_binary_payloads_go_to_value_b64(couchdb_url: str) -> None:
    backend = resultstore.connect(couchdb_url, result_serializer="pickle",
                                  result_accept_content=["pickle", "json"])
    try:
        backend.mark_as_done("pickled", {1, 2, 3})
        doc = _raw(_store(backend), "celery-task-meta-pickled")
        assert "value" not in doc and base64.b64decode(doc["value_b64"])
        assert backend.get_task_meta("pickled", cache=False)["result"] == {1, 2, 3}
    finally:
        backend.close()


@pytest.mark.parametrize("doc", [
    {"_id": "x", "value": 7},
    {"_id": "x", "value_b64": "not base64!"},
    {"_id": "x", "nothing": "here"},
    "a string",
    None,
])
def test_hostile_documents_read_as_absent(doc: Any) -> None:
    assert decode_doc(doc) is None


def test_hostile_expiry_is_ignored_not_trusted() -> None:
    blob = decode_doc({"_id": "x", "_rev": 5, "value": "v", "resultstore_expires": "soon"})
    assert blob is not None and (blob.data, blob.version, blob.expires) == (b"v", None, None)


# -- round trips of the hot paths -----------------------------------------------------------
def test_round_trips(backend: ResultBackend) -> None:
    requests = Requests(_store(backend))
    assert requests.count(backend.mark_as_done, "rt-new", 1) == 1          # PUT
    assert requests.count(backend.get_task_meta, "rt-new", False) == 1     # GET
    ids = [f"rt-{i}" for i in range(50)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)
    assert requests.count(backend.get_many, ids) == 1                      # POST _all_docs
    assert requests.seen == ["POST _all_docs"]
    backend.set_chord_size("rt-g", 2)
    assert requests.count(backend.chord_part_return, "rt-g", "a", 0, states.SUCCESS, 0) == 2
    assert requests.seen == ["PUT celery-taskset-meta-rt-g.p.0.a", "GET _all_docs"]
    # the completing part also creates the marker, and reads the parts in one request
    requests.seen.clear()
    parts = backend.chord_part_return("rt-g", "b", 1, states.SUCCESS, 1)
    assert parts is not None and [p.result for p in parts] == [0, 1]
    assert requests.seen == ["PUT celery-taskset-meta-rt-g.p.1.b", "GET _all_docs",
                             "PUT celery-taskset-meta-rt-g.c", "POST _all_docs"]


def test_overwrites_take_the_current_revision_and_keep_success(backend: ResultBackend) -> None:
    backend.store_result("ow", {"pid": 1}, states.STARTED)
    backend.store_result("ow", None, states.RETRY)
    backend.mark_as_done("ow", "done")
    backend.mark_as_failure("ow", ValueError("late"))
    meta = backend.get_task_meta("ow", cache=False)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, "done")
    assert _raw(_store(backend), "celery-task-meta-ow")["_rev"].startswith("3-")


def test_bulk_writes_and_deletes(backend: ResultBackend) -> None:
    store = _store(backend)
    store.set("bulk-0", b"old", None)
    store.set_many({f"bulk-{i}": f"v{i}".encode() for i in range(5)}, 60)
    assert store.mget([f"bulk-{i}" for i in range(5)] + ["bulk-none"]) == [
        b"v0", b"v1", b"v2", b"v3", b"v4", None]
    store.delete_many([f"bulk-{i}" for i in range(5)] + ["bulk-none"])
    assert store.mget([f"bulk-{i}" for i in range(5)]) == [None] * 5
    store.set("bulk-0", b"again", None)  # a deleted document can be created again
    assert store.get("bulk-0") == b"again"


# -- errors -----------------------------------------------------------------------------------
def test_wrong_password_is_not_retried_and_never_shown(couchdb_url: str, couchdb_password: str,
                                                       real_couchdb: bool) -> None:
    if not couchdb_password:
        pytest.skip("RESULTSTORE_TEST_COUCHDB_URL has no password to get wrong")
    wrong = couchdb_url.replace(f":{couchdb_password}@", ":not-the-password@")
    backend = resultstore.connect(wrong, result_backend_always_retry=True)
    try:
        with pytest.raises(BackendStoreError) as denied:
            backend.mark_as_done("t", 1)
        cause = denied.value.__cause__
        assert isinstance(cause, CouchDBHTTPError) and cause.status == 401
        assert not backend.store.exception_safe_to_retry(cause)
        assert "not-the-password" not in str(denied.value) and couchdb_password not in str(denied.value)
    finally:
        backend.close()


def test_unreachable_server_is_transient(couchdb_password: str) -> None:
    backend = resultstore.connect(f"couchdb://admin:{couchdb_password or 'x'}@127.0.0.1:9/db?timeout=2")
    try:
        with pytest.raises(BackendStoreError) as refused:
            backend.mark_as_done("t", 1)
        assert isinstance(refused.value.__cause__, httpx.ConnectError)
        assert backend.store.exception_safe_to_retry(refused.value.__cause__)
        assert not couchdb_password or couchdb_password not in str(refused.value)
    finally:
        backend.close()


def test_server_errors_are_transient_client_errors_are_not() -> None:
    store = CouchDBStore(CouchDBConfig())
    assert store.exception_safe_to_retry(CouchDBHTTPError(503, "unavailable", "", "GET x"))
    assert store.exception_safe_to_retry(CouchDBHTTPError(429, "too_many_requests", "", "GET x"))
    assert not store.exception_safe_to_retry(CouchDBHTTPError(400, "bad_request", "", "GET x"))
    assert not store.exception_safe_to_retry(BackendError("other"))


# -- push -------------------------------------------------------------------------------------
def test_wait_is_pushed_by_the_changes_feed(backend: ResultBackend) -> None:
    assert backend.capabilities >= {Capability.SUBSCRIBE}
    task_id = f"push-{uuid.uuid4()}"
    threading.Timer(0.5, backend.mark_as_done, args=(task_id, "pushed")).start()
    started = time.monotonic()
    meta = waiter(backend).wait(task_id, timeout=10, interval=30)  # a poll would take 30 s
    assert meta["result"] == "pushed" and time.monotonic() - started < 10


def test_feed_resyncs_after_a_failure(backend: ResultBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed long poll (fault injected): back off, re-read the sequence, call on_reconnect."""
    got: list[tuple[str, bytes]] = []
    reconnected, delivered = threading.Event(), threading.Event()
    polls = ChangesSubscriber._poll

    def flaky_poll(self: ChangesSubscriber) -> list[str]:
        if not reconnected.is_set():
            raise httpx.ReadError("connection reset (injected)")
        return polls(self)

    def on_message(key: str, value: bytes) -> None:
        got.append((key, value))
        delivered.set()

    monkeypatch.setattr(ChangesSubscriber, "_poll", flaky_poll)
    subscriber = ChangesSubscriber(_store(backend), on_message, reconnected.set)
    try:
        subscriber.subscribe("celery-task-meta-resync")
        assert reconnected.wait(10)
        backend.mark_as_done("resync", "after")
        assert delivered.wait(10)
        assert got[0][0] == "celery-task-meta-resync"
        assert backend.codec.decode(got[0][1])["result"] == "after"
    finally:
        subscriber.close()


def test_waits_poll_where_the_feed_is_not_served(backend: ResultBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A server (or proxy) refusing ``_changes`` (fault injected: 403): waits still finish."""
    def refused(self: ChangesSubscriber) -> Any:
        raise CouchDBHTTPError(403, "forbidden", "no _changes here", "read the _changes feed")

    monkeypatch.setattr(ChangesSubscriber, "_current_seq", refused)
    task_id = f"poll-{uuid.uuid4()}"
    threading.Timer(0.3, backend.mark_as_done, args=(task_id, "polled")).start()
    assert waiter(backend).wait(task_id, timeout=10, interval=0.05)["result"] == "polled"


# -- asyncio ------------------------------------------------------------------------------------
def test_asyncio_reads_are_native(backend: ResultBackend) -> None:
    for i in range(3):
        backend.mark_as_done(f"aio-{i}", i)

    async def main() -> tuple[Any, dict[str, Any]]:
        assert isinstance(backend.astore, AsyncCouchDBStore)
        one = await backend.aget_task_meta("aio-0", cache=False)
        many = await backend.aget_many(["aio-1", "aio-2", "aio-none"], cache=False)
        await backend.astore.set("celery-task-meta-aio-set", b'{"status": "PENDING"}', None)
        await backend.astore.set("celery-task-meta-aio-set", b'{"status": "STARTED"}', None)
        await backend.astore.delete("celery-task-meta-aio-0")
        await backend.astore.aclose()
        return one, many

    one, many = asyncio.run(main())
    assert one["result"] == 0
    assert [many[t]["status"] for t in ("aio-1", "aio-2", "aio-none")] == [
        states.SUCCESS, states.SUCCESS, states.PENDING]
    assert _store(backend).get("celery-task-meta-aio-set") == b'{"status": "STARTED"}'
    assert backend.get_task_meta("aio-0", cache=False)["status"] == states.PENDING


def test_listings_page_through_all_docs(backend: ResultBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    import resultstore_couchdb.store as store_module

    monkeypatch.setattr(store_module, "PAGE", 3)
    ids = {f"page-{i}" for i in range(8)}
    for task_id in ids:
        backend.mark_as_done(task_id, 1)
    requests = Requests(_store(backend))
    assert set(backend.task_ids()) == ids
    assert requests.seen.count("GET _all_docs") == 3  # 3 + 3 + 2 rows


def test_clients_keep_no_cookies() -> None:
    """Requests carry Basic auth; a Set-Cookie (CouchDB's AuthSession) is not kept or parsed."""
    from resultstore_couchdb.client import Client

    def answer(request: httpx.Request) -> httpx.Response:
        assert "cookie" not in request.headers
        return httpx.Response(200, headers={"Set-Cookie": "AuthSession=abc; Path=/"}, json={})

    with Client(transport=httpx.MockTransport(answer), base_url="http://couch") as client:
        client.get("/db")
        client.get("/db")
        assert len(client.cookies.jar) == 0
        with pytest.raises(TypeError, match="no cookies"):
            client.cookies = {"a": "b"}  # type: ignore[assignment]


def test_cleanup_goes_by_date_done_for_celerys_documents(couchdb_url: str) -> None:
    """Celery's documents carry no expiry: a task's goes ``result_expires`` after its
    ``date_done``; a saved group has no ``date_done`` and is kept (Celery never deletes it)."""
    from celery.result import AsyncResult as CAsyncResult
    from celery.result import GroupResult as CGroupResult

    app = Celery("t", set_as_current=False)
    theirs = CouchBackend(app=app, url=couchdb_url)
    theirs.mark_as_done("celery-old", 1)
    theirs.save_group("celery-group", CGroupResult("celery-group", [CAsyncResult("celery-old", app=app)],
                                                   app=app))
    backend = resultstore.connect(couchdb_url, result_expires=1)
    try:
        backend.mark_as_done("ours-fresh", 2)  # expires in 1 s too, by resultstore_expires
        time.sleep(1.5)
        assert backend.cleanup() == 2
        store = _store(backend)
        assert store.get("celery-task-meta-celery-old") is None
        assert store.get("celery-taskset-meta-celery-group") is not None
    finally:
        backend.close()
