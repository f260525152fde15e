"""CosmosStore's own behaviour: URLs and settings as Celery's, the requests each hot path sends,
etag-checked writes, per-item ttl, binary payloads and hostile items, errors, asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.cosmos.exceptions import CosmosHttpResponseError

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore.errors import DecodeError, ImproperlyConfigured
from resultstore.testing.races import chords_complete_once, guarded_writes_keep_success
from resultstore_cosmosdbsql import CosmosConfig, CosmosStore
from resultstore_cosmosdbsql.documents import doc_id

MakeBackend = Callable[..., resultstore.ResultBackend]
KEY = "c2VjcmV0K2tleS89"  # base64 with + / =


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ours(open_cosmos: MakeBackend, cosmos_url: str) -> MakeBackend:
    return functools.partial(open_cosmos, cosmos_url, cosmosdbsql_collection_name="store")


def _store(backend: resultstore.ResultBackend) -> CosmosStore:
    assert isinstance(backend.store, CosmosStore)
    return backend.store


@contextlib.contextmanager
def requests_of(store: CosmosStore) -> Iterator[list[tuple[str, str]]]:
    """Every HTTP request the sync client sends meanwhile, as ``(METHOD, path)``."""
    from azure.core.pipeline.transport import RequestsTransport

    sent: list[tuple[str, str]] = []
    original = RequestsTransport.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        sent.append((request.method, urlsplit(request.url).path.rstrip("/")))
        return original(self, request, **kwargs)

    RequestsTransport.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        RequestsTransport.send = original  # type: ignore[method-assign]


# -- URLs and settings -----------------------------------------------------------------------
def test_url_and_settings_as_celery() -> None:
    config = CosmosConfig.from_url(f"cosmosdbsql://:{KEY.replace('/', '%2F').replace('+', '%2B')}"
                                   f"@acct.documents.azure.com", Settings())
    assert (config.endpoint, config.key, config.database, config.collection,
            config.consistency_level, config.max_retry_attempts, config.max_retry_wait_time) == (
        "https://acct.documents.azure.com:443", KEY, "celerydb", "celerycol", "Session", 9, 30)
    local = CosmosConfig.from_url("cosmosdbsql://:a2V5@localhost:8081", Settings({
        "cosmosdbsql_database_name": "d", "cosmosdbsql_collection_name": "c",
        "cosmosdbsql_consistency_level": "Eventual", "cosmosdbsql_max_retry_attempts": 3,
        "cosmosdbsql_max_retry_wait_time": 5}))
    assert (local.endpoint, local.database, local.collection, local.consistency_level,
            local.max_retry_attempts, local.max_retry_wait_time) == (
        "http://localhost:8081", "d", "c", "Eventual", 3, 5)  # not 443: http, as Celery
    emulator = CosmosConfig.from_url("cosmosdbsql://:a2V5@localhost:8081",
                                     Settings({"cosmosdbsql_scheme": "https"}))
    assert emulator.endpoint == "https://localhost:8081"
    assert config.verify is True and "connection_verify" not in config.client_options()
    off = CosmosConfig.from_url("cosmosdbsql://:a2V5@h", Settings({"cosmosdbsql_verify": False}))
    assert off.client_options()["connection_verify"] is False


@pytest.mark.parametrize(("url", "settings"), [
    ("mongodb://:a2V5@h", {}),
    ("cosmosdbsql://h", {}),                      # no key: Celery's "Invalid URL"
    ("cosmosdbsql://:a2V5@", {}),                 # no host
    ("cosmosdbsql://:a/b@h", {}),                 # an unencoded / in the key
    ("cosmosdbsql://:not-base64!@h", {}),         # the SDK would fail on each request
    ("cosmosdbsql://:a2V5@h", {"cosmosdbsql_consistency_level": "Sometimes"}),
])
def test_bad_configuration_is_refused(url: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured):
        CosmosConfig.from_url(url, Settings(settings))


def test_key_never_shown() -> None:
    store = CosmosStore.from_url("cosmosdbsql://:s3cr%2Bt%2F8@h:1", Settings())
    try:
        for text in (repr(store), store.as_uri(), repr(store.config)):
            assert "s3cr" not in text
        assert store.as_uri() == "cosmosdbsql://:**@h:1/celerydb/celerycol"
        assert "s3cr%2Bt%2F8" in store.as_uri(include_password=True)
    finally:
        store.close()


def test_resultstore_backends_lists_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from resultstore.cli import main

    main(["backends", "--json"])
    rows = {row["alias"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["cosmosdbsql"]
    assert row["target"] == "resultstore_cosmosdbsql.host:CosmosDBSQLBackend"
    assert row["distribution"] == "resultstore-cosmosdbsql"
    assert row["replaces"] == "celery.backends.cosmosdbsql:CosmosDBSQLBackend"
    assert row["store"] == "resultstore_cosmosdbsql.store:CosmosStore" and not row["error"]


# -- requests per operation ------------------------------------------------------------------
def test_hot_paths(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    backend.get_task_meta(_uid())  # first use: account, database, container
    ids = [_uid() for _ in range(50)]
    docs = f"/dbs/{store.config.database}/colls/{store.config.collection}/docs"
    with requests_of(store) as log:
        backend.mark_as_done(ids[0], 1)
    assert log == [("POST", docs)]  # create_item: nothing stored yet
    backend.get_many(ids)  # the first read_items also reads the partition key ranges
    with requests_of(store) as log:
        metas = backend.get_many(ids)
    assert [m for m, p in log if p == docs] == ["POST"]  # one id IN (...) query
    assert len(log) <= 2  # and at most the cached partition key ranges' revalidation
    assert [m["status"] for m in metas.values()].count(states.SUCCESS) == 1
    with requests_of(store) as log:
        assert backend.get_task_meta(ids[0], cache=False)["result"] == 1
    assert log == [("GET", f"{docs}/celery-task-meta-{ids[0]}")]


def test_overwrite_is_create_read_and_etag_checked_replace(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_started(task_id, pid=1)
    with requests_of(store) as log:
        backend.mark_as_failure(task_id, ValueError("x"))
    assert [m for m, _ in log] == ["POST", "GET", "PUT"]  # 409, read _etag, If-Match replace
    backend.mark_as_done(task_id, 1)
    with requests_of(store) as log:
        backend.mark_as_failure(task_id, ValueError("late"))
    assert [m for m, _ in log] == ["POST", "GET"]  # the SUCCESS is kept: nothing replaced
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.SUCCESS


def test_a_stale_etag_is_refused_with_412(ours: MakeBackend) -> None:
    store = _store(ours())
    store.set("k-etag", b'{"status": "STARTED"}', None)
    old = store.read("k-etag")
    assert old is not None
    store.set("k-etag", b'{"status": "RETRY"}', None)
    assert not store.replace_if({"id": "k-etag", "value": "x"}, old["_etag"])
    assert store.get("k-etag") == b'{"status": "RETRY"}'


def test_successes_survive_concurrent_failures(ours: MakeBackend) -> None:
    guarded_writes_keep_success([ours() for _ in range(4)], rounds=10)


def test_chords_complete_once_under_duplicates_from_threads(ours: MakeBackend) -> None:
    chords_complete_once([ours() for _ in range(3)], groups=10, size=6, copies=2)


# -- layout, expiry, payloads ----------------------------------------------------------------
def test_per_item_ttl_and_container_default(ours: MakeBackend) -> None:
    backend = ours(result_expires=1.5)
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, 1)
    item = store.read(f"celery-task-meta-{task_id}")
    assert item is not None and {k for k in item if not k.startswith("_")} == {"id", "value", "ttl"}
    assert item["ttl"] == 2  # whole seconds, rounded up
    assert store.container.read()["defaultTtl"] == -1
    time.sleep(2.2)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING


def test_celerys_container_gets_a_default_ttl(open_cosmos: MakeBackend, cosmos_url: str) -> None:
    """A container created by Celery (no ``defaultTtl``: per-item ttl ignored) is given -1."""
    backend = open_cosmos(cosmos_url, cosmosdbsql_collection_name="celerymade")
    store = _store(backend)
    from azure.cosmos import CosmosClient, PartitionKey

    client = CosmosClient(store.config.endpoint, credential=store.config.key)
    database = client.create_database_if_not_exists(store.config.database)
    database.create_container_if_not_exists("celerymade", partition_key=PartitionKey("/id"))
    assert "defaultTtl" not in database.get_container_client("celerymade").read()
    backend.mark_as_done(_uid(), 1)
    assert database.get_container_client("celerymade").read()["defaultTtl"] == -1
    client.close()


def test_ids_cosmos_refuses_are_percent_encoded(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = "zażółć/日本 %20?#\\" + _uid()
    backend.mark_as_done(task_id, "ż")
    assert backend.get_task_meta(task_id, cache=False)["result"] == "ż"
    assert doc_id("celery-task-meta-abc:1.2@x") == "celery-task-meta-abc:1.2@x"
    item = store.read(f"celery-task-meta-{task_id}")
    assert item is not None and not any(c in item["id"] for c in "/\\?#")
    assert backend.get_many([task_id])[task_id]["result"] == "ż"
    backend.forget(task_id)
    assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING


def test_binary_payloads_go_base64_in_value_b64(ours: MakeBackend) -> None:
    backend = ours(result_serializer="pickle", accept_content=["pickle", "json"],
                   result_accept_content=["pickle", "json"])
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, {1, 2})
    item = store.read(f"celery-task-meta-{task_id}")
    assert item is not None and "value" not in item and isinstance(item["value_b64"], str)
    assert backend.get_task_meta(task_id, cache=False)["result"] == {1, 2}


def test_hostile_items(ours: MakeBackend) -> None:
    store = _store(ours())
    store.container.upsert_item({"id": "bad-b64", "value_b64": "!!!"})
    store.container.upsert_item({"id": "bad-type", "value": 5})
    with pytest.raises(DecodeError):
        store.get("bad-b64")
    assert store.get("bad-type") is None


# -- errors, asyncio -------------------------------------------------------------------------
def test_exception_safe_to_retry(ours: MakeBackend) -> None:
    store = _store(ours())
    assert store.exception_safe_to_retry(CosmosHttpResponseError(status_code=429, message="busy"))
    assert store.exception_safe_to_retry(CosmosHttpResponseError(status_code=503, message="down"))
    assert not store.exception_safe_to_retry(CosmosHttpResponseError(status_code=400, message="no"))
    assert store.exception_safe_to_retry(ServiceRequestError("refused"))
    assert not store.exception_safe_to_retry(ValueError("bug"))


def test_unreachable_server_is_a_clear_error() -> None:
    from resultstore.testing.servers import free_port

    backend = resultstore.connect(f"cosmosdbsql://:czNjcmV0@127.0.0.1:{free_port()}",
                                  result_backend_max_retries=0)
    try:
        with pytest.raises(resultstore.errors.BackendGetMetaError) as info:
            backend.get_task_meta("t")
        chain = [info.value, info.value.__cause__, info.value.__context__]
        assert not any("czNjcmV0" in f"{e!s} {e!r}" for e in chain if e is not None)
        assert "czNjcmV0" not in repr(backend) and "czNjcmV0" not in backend.as_uri()
    finally:
        backend.close()


def test_asyncio_twin_across_event_loops(ours: MakeBackend) -> None:
    backend = ours()
    ids = [_uid() for _ in range(3)]
    astore = _store(backend).aio()

    async def write_and_read(i: int) -> list[bytes | None]:
        await astore.set(f"k-{ids[i]}", f"v{i}".encode(), None)
        return await astore.mget([f"k-{t}" for t in ids])

    assert asyncio.run(write_and_read(0))[0] == b"v0"
    assert asyncio.run(write_and_read(1))[:2] == [b"v0", b"v1"]  # a new loop, a new client
    assert _store(backend).get(f"k-{ids[1]}") == b"v1"

    async def delete() -> bytes | None:
        await astore.delete(f"k-{ids[0]}")
        await astore.delete(f"k-{ids[0]}")  # idempotent
        value = await astore.get(f"k-{ids[0]}")
        await astore.aclose()
        return value

    assert asyncio.run(delete()) is None


def test_asyncio_first_use_creates_nothing_until_a_write(open_cosmos: MakeBackend,
                                                         cosmos_url: str) -> None:
    """The twin reads without looking the database up (absent: nothing stored) and sets the
    database and container up on its first write."""
    backend = open_cosmos(cosmos_url, cosmosdbsql_database_name=f"fresh{uuid.uuid4().hex[:6]}")
    astore = _store(backend).aio()

    async def first_use() -> tuple[Any, ...]:
        before = (await astore.get("k"), await astore.mget(["k", "j"]))
        await astore.set("k", b"v", 60)
        after = await astore.get("k")
        await astore.aclose()
        return (*before, after)

    assert asyncio.run(first_use()) == (None, [None, None], b"v")

    async def many() -> list[bytes | None]:  # one read_items query
        values = await astore.mget(["k", *[f"none-{i}" for i in range(11)], "k"])
        await astore.aclose()
        return values

    assert asyncio.run(many()) == [b"v", *[None] * 11, b"v"]
    assert _store(backend).container.read()["defaultTtl"] == -1
