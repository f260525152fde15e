"""The Couchbase store's own behaviour: URL and settings as Celery reads them, the payload
layout, native expiry, batching (SDK calls counted), CAS, retry classification."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import acouchbase.cluster
import couchbase.cluster
import pytest
from couchbase import exceptions as cb
from couchbase.constants import FMT_BYTES, FMT_JSON
from couchbase_fake.sdk import FakeCluster, FakeCollection
from couchbase_fake.server import DocumentServer

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore_couchbase import CouchbaseConfig, CouchbaseStore
from resultstore_couchbase.payload import TRANSCODER
from resultstore_couchbase.store import expiry

MakeBackend = Callable[..., resultstore.ResultBackend]
#: The SDK's own classes, taken before the conftest's stand-in replaces them.
REAL_CLUSTER, REAL_ASYNC_CLUSTER = couchbase.cluster.Cluster, acouchbase.cluster.Cluster


def _config(url: str | None, **settings: Any) -> CouchbaseConfig:
    return CouchbaseConfig.from_url(url, Settings(settings))


# -- URL and settings ------------------------------------------------------------------------
def test_url_as_celery_reads_it() -> None:
    config = _config("couchbase://app:p%40ss%2Fw@db.example:11210/results")
    assert (config.host, config.port, config.bucket) == ("db.example", 11210, "results")
    assert (config.username, config.password) == ("app", "p@ss/w")
    assert config.connstr == "couchbase://db.example:11210"


def test_defaults_are_celerys() -> None:
    config = _config("couchbase://")
    assert (config.host, config.port, config.bucket, config.username) == ("localhost", 8091, "default", None)
    assert config.connstr == "couchbase://localhost"  # 8091 is the HTTP port: SDK 4's default KV port


def test_settings_fill_what_the_url_lacks_and_the_url_wins() -> None:
    settings = {"couchbase_backend_settings": {"host": "h2", "port": 11207, "bucket": "b2",
                                               "username": "u2", "password": "p2"}}
    assert _config("couchbase://", **settings) == CouchbaseConfig("h2", 11207, "b2", "u2", "p2")
    config = _config("couchbase://u1:p1@h1/b1", **settings)
    assert (config.host, config.port, config.bucket, config.username, config.password) == \
        ("h1", 11207, "b1", "u1", "p1")


def test_own_settings() -> None:
    config = _config("couchbase://", couchbase_backend_settings={
        "connection_string": "couchbases://a,b?network=external", "scope": "s", "collection": "c",
        "timeout": 5, "connect_timeout": "3"})
    assert config.connstr == "couchbases://a,b?network=external"
    assert (config.scope, config.collection, config.timeout, config.connect_timeout) == ("s", "c", 5.0, 3.0)


@pytest.mark.parametrize("url, settings, message", [
    ("couchbase://h:port/b", {}, "port must be a number"),
    ("redis://h", {}, "Not a couchbase"),
    ("couchbase://", {"couchbase_backend_settings": ["host"]}, "grouped in a dict"),
    ("couchbase://", {"couchbase_backend_settings": {"hots": "x"}}, "Unknown"),
    ("couchbase://", {"couchbase_backend_settings": {"timeout": 0}}, "positive"),
])
def test_bad_configuration_is_refused(url: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _config(url, **settings)


def test_as_uri_masks_the_password() -> None:
    config = _config("couchbase://app:s%3Bcret@h/b")
    assert config.as_uri() == "couchbase://app:**@h:8091/b"
    assert "s%3Bcret" in config.as_uri(include_password=True)
    assert "cret" not in repr(config)


def test_cluster_opened_with_credentials_and_timeouts(only_fake: DocumentServer,
                                                      open_backend: MakeBackend) -> None:
    FakeCluster.opened.clear()
    backend = open_backend("couchbase://app:pw@10.0.0.9:11210/results",
                           couchbase_backend_settings={"timeout": 4, "connect_timeout": 2})
    backend.mark_as_done(str(uuid.uuid4()), 1)
    connstr, settings = FakeCluster.opened[-1]
    assert connstr == "couchbase://10.0.0.9:11210"
    assert settings.auth["username"] == "app"
    assert settings.default_transcoder is TRANSCODER  # reads carry no per-call options
    assert settings.cluster_options["timeout_options"] == {
        "key_value_timeout": 4000, "connect_timeout": 2000, "bootstrap_timeout": 2000}


def test_credentials_are_required(open_backend: MakeBackend) -> None:
    """SDK 4 refuses a cluster without an authenticator; we say so before trying."""
    backend = open_backend("couchbase://127.0.0.1/results")
    with pytest.raises(ImproperlyConfigured, match="username and a password"):
        backend.mark_as_done(str(uuid.uuid4()), 1)


# -- layout and payloads ---------------------------------------------------------------------
def _doc(server: DocumentServer, key: str) -> tuple[bytes, int, int, float | None]:
    return next(doc for where, doc in server.docs.items() if where[-1] == key)


def test_text_payload_is_a_json_string_document(only_fake: DocumentServer,
                                                open_backend: MakeBackend, couchbase_url: str) -> None:
    task_id = str(uuid.uuid4())
    open_backend(couchbase_url).mark_as_done(task_id, {"x": 1})
    value, flags, _, _ = _doc(only_fake, f"celery-task-meta-{task_id}")
    assert flags == FMT_JSON
    assert json.loads(json.loads(value))["result"] == {"x": 1}


def test_binary_payload_is_stored_as_bytes(only_fake: DocumentServer, open_backend: MakeBackend,
                                           couchbase_url: str) -> None:
    """Pickle payloads are raw bytes (FMT_BYTES); Celery's JSON transcoder cannot store them."""
    task_id = str(uuid.uuid4())
    backend = open_backend(couchbase_url, result_serializer="pickle", accept_content=["pickle", "json"],
                           result_accept_content=["pickle", "json"])
    backend.mark_as_done(task_id, {1, 2, 3})
    assert _doc(only_fake, f"celery-task-meta-{task_id}")[1] == FMT_BYTES
    assert backend.get_task_meta(task_id, cache=False)["result"] == {1, 2, 3}


def test_a_json_object_document_reads_as_its_json_text() -> None:
    """A document another program wrote as a JSON object reaches the codec as its JSON text."""
    assert TRANSCODER.decode_value(b'{"status": "SUCCESS"}', FMT_JSON) == b'{"status": "SUCCESS"}'
    assert TRANSCODER.decode_value(b'"text"', FMT_JSON) == b"text"
    assert TRANSCODER.decode_value(b"\x80raw", FMT_BYTES) == b"\x80raw"
    assert TRANSCODER.encode_value(b"\xff\x00") == (b"\xff\x00", FMT_BYTES)


# -- expiry ------------------------------------------------------------------------------------
def test_native_expiry_per_state(only_fake: DocumentServer, open_backend: MakeBackend,
                                 couchbase_url: str) -> None:
    backend = open_backend(couchbase_url, result_expires=600, result_failure_expires=60)
    ok, bad = str(uuid.uuid4()), str(uuid.uuid4())
    backend.mark_as_done(ok, 1)
    backend.mark_as_failure(bad, ValueError("x"))
    now = time.time()
    assert 590 < (_doc(only_fake, f"celery-task-meta-{ok}")[3] or 0) - now <= 600
    assert 50 < (_doc(only_fake, f"celery-task-meta-{bad}")[3] or 0) - now <= 60
    forever = open_backend(couchbase_url, result_expires=None)
    kept = str(uuid.uuid4())
    forever.mark_as_done(kept, 1)
    assert _doc(only_fake, f"celery-task-meta-{kept}")[3] is None


def test_expired_document_reads_pending(open_backend: MakeBackend, couchbase_url: str) -> None:
    backend = open_backend(couchbase_url, result_expires=1)
    task_id = str(uuid.uuid4())
    backend.mark_as_done(task_id, 1)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.SUCCESS
    time.sleep(2.2)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING


def test_expiry_is_whole_seconds_rounded_up() -> None:
    assert expiry(None) is None and expiry(0) is None
    assert expiry(0.2) == timedelta(seconds=1) and expiry(2.5) == timedelta(seconds=3)


# -- batching (SDK calls counted) -----------------------------------------------------------------
def test_get_many_is_one_get_multi(only_fake: DocumentServer, open_backend: MakeBackend,
                                   couchbase_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_backend(couchbase_url)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    for task_id in ids[:40]:
        backend.mark_as_done(task_id, task_id)
    calls: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        original = getattr(FakeCollection, name)

        def call(self: FakeCollection, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(self, *args, **kwargs)
        return call

    for name in ("get", "get_multi"):
        monkeypatch.setattr(FakeCollection, name, counted(name))
    found = backend.get_many(ids, cache=False)
    assert calls == ["get_multi"]
    assert {found[i]["status"] for i in ids[:40]} == {states.SUCCESS}
    assert {found[i]["status"] for i in ids[40:] if i in found} <= {states.PENDING}


def test_store_set_many_and_delete_many(couchbase_url: str) -> None:
    store = CouchbaseStore.from_url(couchbase_url, Settings())
    try:
        keys = {f"rs-test-{uuid.uuid4()}": f"v{i}".encode() for i in range(5)}
        store.set_many(keys, 60)
        assert store.mget([*keys, "rs-test-missing"]) == [*keys.values(), None]
        store.delete_many([*keys, "rs-test-missing"])
        assert store.mget(list(keys)) == [None] * 5
    finally:
        store.close()


# -- CAS ---------------------------------------------------------------------------------------------
def test_guarded_set_replaces_by_cas_and_keeps_success(couchbase_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = CouchbaseStore.from_url(couchbase_url, Settings())
    try:
        key = f"rs-test-{uuid.uuid4()}"
        assert store.set_unless_prefix(key, b"STARTED", 60, b"SUCCESS")
        # A writer slips in between our read and our replace: the CAS refuses ours, we read again.
        original, slipped = store.read, []

        def read_then_race(k: str) -> Any:
            found = original(k)
            if not slipped:
                slipped.append(1)
                store.set(k, b"SUCCESS-by-another", 60)
            return found

        monkeypatch.setattr(store, "read", read_then_race)
        assert store.set_unless_prefix(key, b"RETRY", 60, b"SUCCESS") is False
        assert store.get(key) == b"SUCCESS-by-another"
    finally:
        store.close()


def test_transient_errors_are_retried() -> None:
    store = CouchbaseStore(CouchbaseConfig())
    assert store.exception_safe_to_retry(cb.AmbiguousTimeoutException(message="t"))
    assert store.exception_safe_to_retry(cb.TemporaryFailException(message="t"))
    assert store.exception_safe_to_retry(cb.ServiceUnavailableException(message="t"))
    assert not store.exception_safe_to_retry(cb.DocumentExistsException(message="t"))
    assert not store.exception_safe_to_retry(cb.AuthenticationException(message="t"))


# -- `resultstore backends` ----------------------------------------------------------------------
def test_backends_lists_couchbase(capsys: pytest.CaptureFixture[str]) -> None:
    from resultstore.cli import main

    main(["backends", "--json"])
    rows = {row["alias"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["couchbase"]
    assert row["target"] == "resultstore_couchbase.host:CouchbaseBackend"
    assert row["distribution"] == "resultstore-couchbase" and not row["error"]
    assert row["replaces"] == "celery.backends.couchbase:CouchbaseBackend"
    assert row["store"] == "resultstore_couchbase.store:CouchbaseStore"
    assert {"chord_add", "batch", "guarded_set"} <= set(row["capabilities"])


def test_round_trips_per_result(only_fake: DocumentServer, open_backend: MakeBackend,
                                couchbase_url: str) -> None:
    """A first state is one ``insert``; a later one ``insert`` (refused) + ``get`` + ``replace``
    with CAS (Celery's backend: a ``get``, then an unguarded ``upsert``); a read is one ``get``."""
    backend = open_backend(couchbase_url)
    task_id = str(uuid.uuid4())
    costs = []
    for step in (lambda: backend.mark_as_started(task_id), lambda: backend.mark_as_done(task_id, 1),
                 lambda: backend.get_task_meta(task_id, cache=False)):
        before = only_fake.ops
        step()
        costs.append(only_fake.ops - before)
    assert costs == [1, 3, 1]


async def test_unreachable_server_is_a_retried_timeout_on_the_real_sdk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The real SDK (sync and ``acouchbase``) against a closed port: its bootstrap gives up after
    ``connect_timeout`` with ``UnAmbiguousTimeoutException``, which is retried."""
    import socket

    monkeypatch.setattr(couchbase.cluster, "Cluster", REAL_CLUSTER)
    monkeypatch.setattr(acouchbase.cluster, "Cluster", REAL_ASYNC_CLUSTER)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = CouchbaseStore.from_url(f"couchbase://app:pw@127.0.0.1:{port}/results", Settings(
        {"couchbase_backend_settings": {"connect_timeout": 0.3}}))
    astore = store.aio()
    try:
        with pytest.raises(cb.UnAmbiguousTimeoutException) as failed:
            await astore.get("k")
        assert store.exception_safe_to_retry(failed.value)
        with pytest.raises(cb.UnAmbiguousTimeoutException) as failed_sync:
            store.get("k")
        assert store.exception_safe_to_retry(failed_sync.value)
    finally:
        await astore.aclose()
        store.close()


def test_a_pickle_flagged_document_is_never_unpickled() -> None:
    """An SDK-2 style pickled document (``FMT_PICKLE``) reaches core as bytes, whose codec
    refuses it unless pickle is accepted: the store itself never unpickles."""
    import pickle

    from couchbase.constants import FMT_PICKLE

    data = pickle.dumps({"status": "SUCCESS"})
    assert TRANSCODER.decode_value(data, FMT_PICKLE) == data


def test_celery_app_settings_reach_the_store(fake: DocumentServer | None) -> None:
    """``couchbase_backend_settings`` in a Celery app's config, as Celery reads it."""
    celery = pytest.importorskip("celery")
    app = celery.Celery("settings", set_as_current=False)
    app.conf.result_backend = "couchbase://"
    app.conf.couchbase_backend_settings = {"host": "cb.example", "bucket": "res", "username": "u",
                                           "password": "p", "timeout": 7}
    from resultstore_couchbase.host import CouchbaseBackend

    backend = app.backend
    assert isinstance(backend, CouchbaseBackend)
    config = backend.backend.store.config
    assert (config.host, config.bucket, config.username, config.timeout) == ("cb.example", "res", "u", 7.0)
    assert backend.as_uri() == "couchbase://u:**@cb.example:8091/res"
    # Celery's attributes of its CouchbaseBackend
    assert (backend.host, backend.port, backend.bucket, backend.username, backend.timeout) == (
        "cb.example", 8091, "res", "u", 7.0)
