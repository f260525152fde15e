"""ArangoStore's own behaviour: URLs and settings as Celery's, the requests each hot path
sends, revision-checked writes, TTL expiry, binary payloads and hostile documents, errors."""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from arango.exceptions import ArangoServerError

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore.errors import DecodeError, ImproperlyConfigured
from resultstore.testing.races import chords_complete_once, guarded_writes_keep_success
from resultstore_arangodb import ArangoConfig, ArangoStore
from resultstore_arangodb.documents import doc_key

MakeBackend = Callable[..., resultstore.ResultBackend]


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ours(open_arango: MakeBackend, arango_url: str) -> MakeBackend:
    return functools.partial(open_arango, arango_url + "/store")


def _store(backend: resultstore.ResultBackend) -> ArangoStore:
    assert isinstance(backend.store, ArangoStore)
    return backend.store


@contextlib.contextmanager
def requests_of(store: ArangoStore) -> Iterator[list[tuple[str, str]]]:
    """Every HTTP request the driver sends meanwhile, as ``(METHOD, path)``."""
    sent: list[tuple[str, str]] = []
    http = store.client._http
    original = http.send_request

    def send(session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append((method.upper(), urlsplit(url).path))
        return original(session, method, url, *args, **kwargs)

    http.send_request = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        http.send_request = original  # type: ignore[method-assign]


# -- URLs and settings -----------------------------------------------------------------------
@pytest.mark.parametrize(("url", "settings", "expected"), [
    ("arangodb://", {}, ("http://127.0.0.1:8529", "celery", "celery", None, None)),
    ("arangodb://u:p%40ss@db.example:8530/results/tasks", {},
     ("http://db.example:8530", "results", "tasks", "u", "p@ss")),
    ("arangodb://db.example/results", {},
     ("http://db.example:8529", "results", "celery", None, None)),
    ("arangodb://", {"arangodb_backend_settings": {
        "host": "h", "port": "9000", "database": "d", "collection": "c", "username": "u",
        "password": "pw", "http_protocol": "https"}},
     ("https://h:9000", "d", "c", "u", "pw")),
    ("arangodb://url-host:1/db/col", {"arangodb_backend_settings": {
        "host": "h", "port": 9000, "database": "d", "collection": "c"}},
     ("http://url-host:1", "db", "col", None, None)),  # the URL wins, as in Celery
])
def test_url_and_settings_as_celery(url: str, settings: dict[str, Any], expected: Any) -> None:
    config = ArangoConfig.from_url(url, Settings(settings))
    assert (config.endpoint, config.database, config.collection, config.username,
            config.password) == expected


@pytest.mark.parametrize(("url", "settings"), [
    ("mongodb://h/db", {}),
    ("arangodb://h/a/b/c", {}),
    ("arangodb://u:p/w@h/db", {}),  # an unencoded / in the password
    ("arangodb://h:port/db", {}),
    ("arangodb://", {"arangodb_backend_settings": "host=h"}),
    ("arangodb://", {"arangodb_backend_settings": {"http_protocol": "ftp"}}),
])
def test_bad_configuration_is_refused(url: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured):
        ArangoConfig.from_url(url, Settings(settings))


def test_tls_verification_is_on_unless_turned_off() -> None:
    assert ArangoConfig.from_url("arangodb://", Settings()).verify is True
    off = Settings({"arangodb_backend_settings": {"verify": False}})
    assert ArangoConfig.from_url("arangodb://", off).verify is False
    bundle = Settings({"arangodb_backend_settings": {"verify": "/etc/ca.pem"}})
    assert ArangoConfig.from_url("arangodb://", bundle).verify == "/etc/ca.pem"


def test_resultstore_backends_lists_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from resultstore.cli import main

    main(["backends", "--json"])
    rows = {row["alias"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["arangodb"]
    assert row["target"] == "resultstore_arangodb.host:ArangoDbBackend"
    assert row["distribution"] == "resultstore-arangodb"
    assert row["replaces"] == "celery.backends.arangodb:ArangoDbBackend"
    assert row["store"] == "resultstore_arangodb.store:ArangoStore" and not row["error"]


def test_password_never_shown() -> None:
    store = ArangoStore.from_url("arangodb://app:s3cr%3Bt@h:1/d/c", Settings())
    try:
        for text in (repr(store), store.as_uri(), repr(store.config)):
            assert "s3cr" not in text
        assert store.as_uri() == "arangodb://app:**@h:1/d/c"
        assert "s3cr%3Bt" in store.as_uri(include_password=True)
    finally:
        store.close()


# -- requests per operation ------------------------------------------------------------------
def test_hot_paths_are_one_request_each(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    backend.get_task_meta(_uid())  # first use: collection and indexes
    ids = [_uid() for _ in range(50)]
    col = f"/_db/{store.config.database}/_api/document/{store.config.collection}"
    with requests_of(store) as log:
        backend.mark_as_done(ids[0], 1)
    assert log == [("POST", col)]  # an insert: nothing stored yet
    with requests_of(store) as log:
        metas = backend.get_many(ids)
    assert log == [("PUT", col)]  # onlyget=true: one batched read
    assert [m["status"] for m in metas.values()].count(states.SUCCESS) == 1
    with requests_of(store) as log:
        assert backend.get_task_meta(ids[0], cache=False)["result"] == 1
    assert log == [("GET", f"{col}/celery-task-meta-{ids[0]}")]


def test_overwrite_is_insert_read_and_revision_checked_replace(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_started(task_id, pid=1)
    with requests_of(store) as log:
        backend.mark_as_failure(task_id, ValueError("x"))
    assert [m for m, _ in log] == ["POST", "GET", "PUT"]  # 409, read _rev, replace on _rev
    backend.mark_as_done(task_id, 1)
    with requests_of(store) as log:
        backend.mark_as_failure(task_id, ValueError("late"))
    assert [m for m, _ in log] == ["POST", "GET"]  # the SUCCESS is kept: nothing replaced
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.SUCCESS


def test_a_stale_revision_is_refused_with_412(ours: MakeBackend) -> None:
    store = _store(ours())
    store.set("k-rev", b'{"status": "STARTED"}', None)
    old = store.get_document("k-rev")
    assert old is not None
    store.set("k-rev", b'{"status": "RETRY"}', None)
    assert not store.replace_if("k-rev", {"_key": "k-rev", "task": "x"}, old["_rev"])
    assert store.get("k-rev") == b'{"status": "RETRY"}'


def test_successes_survive_concurrent_failures(ours: MakeBackend) -> None:
    guarded_writes_keep_success([ours() for _ in range(4)], rounds=10)


def test_chords_complete_once_under_duplicates_from_threads(ours: MakeBackend) -> None:
    chords_complete_once([ours() for _ in range(3)], groups=10, size=6, copies=2)


# -- layout, expiry, payloads ----------------------------------------------------------------
def test_ttl_index_and_expires_at(ours: MakeBackend) -> None:
    backend = ours(result_expires=1)
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, 1)
    doc = store.get_document(f"celery-task-meta-{task_id}")
    assert doc is not None and set(doc) - {"_id", "_rev"} == {"_key", "task", "expires_at"}
    assert 0 < doc["expires_at"] - time.time() <= 1.5
    indexes = store.collection.indexes()
    ttl = [i for i in indexes if i["type"] == "ttl"]
    assert ttl and ttl[0]["fields"] == ["expires_at"] and ttl[0]["expiry_time"] == 0
    time.sleep(1.2)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING


def test_keys_celery_cannot_store_are_percent_encoded(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = "zażółć/日本 %20?#" + _uid()
    backend.mark_as_done(task_id, "ż")
    assert backend.get_task_meta(task_id, cache=False)["result"] == "ż"
    assert doc_key("celery-task-meta-abc:1.2@x") == "celery-task-meta-abc:1.2@x"
    stored = store.get_document(f"celery-task-meta-{task_id}")
    assert stored is not None and stored["_key"] == doc_key(f"celery-task-meta-{task_id}")
    assert all(c.isascii() and c not in "/ ?#" for c in stored["_key"])
    backend.forget(task_id)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING


def test_binary_payloads_go_base64_in_task_b64(ours: MakeBackend) -> None:
    backend = ours(result_serializer="pickle", accept_content=["pickle", "json"],
                   result_accept_content=["pickle", "json"])
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, {1, 2})
    doc = store.get_document(f"celery-task-meta-{task_id}")
    assert doc is not None and "task" not in doc and isinstance(doc["task_b64"], str)
    assert backend.get_task_meta(task_id, cache=False)["result"] == {1, 2}


def test_hostile_documents(ours: MakeBackend) -> None:
    store = _store(ours())
    store.collection.insert({"_key": "bad-b64", "task_b64": "!!!"}, overwrite=True)
    store.collection.insert({"_key": "bad-type", "task": 5, "expires_at": "never"},
                            overwrite=True)
    with pytest.raises(DecodeError):
        store.get("bad-b64")
    assert store.get("bad-type") is None


# -- errors ----------------------------------------------------------------------------------
def test_exception_safe_to_retry(ours: MakeBackend) -> None:
    store = _store(ours())
    with pytest.raises(ArangoServerError) as info:
        store.db.aql.execute("FOR x IN nothing RETURN x")
    assert not store.exception_safe_to_retry(info.value)  # a 400 is not transient
    info.value.http_code = 503
    assert store.exception_safe_to_retry(info.value)
    assert store.exception_safe_to_retry(requests.ConnectionError("refused"))
    assert store.exception_safe_to_retry(ConnectionAbortedError("no host"))
    assert not store.exception_safe_to_retry(ValueError("bug"))


def test_unreachable_server_is_a_clear_error() -> None:
    from resultstore.testing.servers import free_port

    backend = resultstore.connect(f"arangodb://user:s3cret@127.0.0.1:{free_port()}/d/c",
                                  result_backend_max_retries=0)
    try:
        with pytest.raises(resultstore.errors.BackendGetMetaError) as info:
            backend.get_task_meta("t")
        chain = [info.value, info.value.__cause__, info.value.__context__]
        assert not any("s3cret" in f"{e!s} {e!r}" for e in chain if e is not None)
        assert "s3cret" not in repr(backend) and "s3cret" not in backend.as_uri()
    finally:
        backend.close()
