"""ElasticsearchStore specifics: URLs and settings, round trips, Celery's guard rules, cleanup,
binary payloads and asyncio (real HTTP to the stand-in, or a real server when configured)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import elastic_transport
import pytest
from elasticsearch import ApiError, ConflictError

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore.errors import DecodeError, ImproperlyConfigured
from resultstore.registry import split_url
from resultstore_elasticsearch import ElasticsearchConfig, ElasticsearchStore
from resultstore_elasticsearch.documents import BINARY_MARK

MakeBackend = Callable[..., resultstore.ResultBackend]


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ours(open_es: MakeBackend, es_url: str) -> MakeBackend:
    return functools.partial(open_es, es_url)


def _store(backend: resultstore.ResultBackend) -> ElasticsearchStore:
    assert isinstance(backend.store, ElasticsearchStore)
    return backend.store


@contextlib.contextmanager
def requests_of(store: ElasticsearchStore) -> Iterator[list[tuple[str, str]]]:
    """Every HTTP request the client sends meanwhile, as ``(method, path)``."""
    sent: list[tuple[str, str]] = []
    transport = store.client.transport
    original = transport.perform_request

    def perform(method: str, target: str, **kwargs: Any) -> Any:
        sent.append((method, target.split("?")[0]))
        return original(method, target, **kwargs)

    transport.perform_request = perform  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        transport.perform_request = original  # type: ignore[method-assign]


# -- URLs and settings -----------------------------------------------------------------------
@pytest.mark.parametrize(("url", "node", "index", "auth"), [
    ("elasticsearch://", "http://localhost:9200", "celery", None),
    ("elasticsearch://es.example:9201/results", "http://es.example:9201", "results", None),
    ("elasticsearch+https://u:p%40ss@es.example/idx/doc", "https://es.example:9200", "idx",
     ("u", "p@ss")),
    ("https://u:secret@es.example:443/idx", "https://es.example:443", "idx", ("u", "secret")),
])
def test_url_forms_as_celery(url: str, node: str, index: str, auth: Any) -> None:
    config = ElasticsearchConfig.from_url(url, Settings())
    expected = base64.b64encode(":".join(auth).encode()).decode() if auth else None
    assert (config.node, config.index, config.basic_auth) == (node, index, expected)


def test_celery_strips_the_scheme_prefix_and_we_accept_both() -> None:
    alias, rest = split_url("elasticsearch+https://u:pw@h:9243/i")
    assert (alias, rest) == ("elasticsearch", "https://u:pw@h:9243/i")
    assert ElasticsearchConfig.from_url(rest, Settings()).scheme == "https"


def test_doc_type_is_parsed_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    config = ElasticsearchConfig.from_url("elasticsearch://h/idx/mytype", Settings())
    assert (config.index, config.doc_type) == ("idx", "mytype")
    assert "mytype" in caplog.text


def test_settings_as_celery() -> None:
    config = ElasticsearchConfig.from_url("elasticsearch://h/i", Settings(
        elasticsearch_retry_on_timeout=True, elasticsearch_max_retries=7,
        elasticsearch_timeout=2.5, elasticsearch_save_meta_as_text=False))
    assert (config.retry_on_timeout, config.max_retries, config.timeout,
            config.save_meta_as_text) == (True, 7, 2.5, False)
    defaults = ElasticsearchConfig.from_url("elasticsearch://h/i", Settings())
    assert (defaults.retry_on_timeout, defaults.max_retries, defaults.timeout,
            defaults.save_meta_as_text) == (False, 3, 10.0, True)
    with pytest.raises(ImproperlyConfigured, match="elasticsearch_timeout"):
        ElasticsearchConfig.from_url("elasticsearch://h/i", Settings(elasticsearch_timeout="x"))
    with pytest.raises(ImproperlyConfigured, match="scheme"):
        ElasticsearchConfig.from_url("redis://h/i", Settings())


@pytest.mark.parametrize("index", ["Results", "a b", "_x", "a*b", "a%23b"])
def test_invalid_index_names_are_refused_before_any_request(index: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="not a valid index name"):
        ElasticsearchConfig.from_url(f"elasticsearch://h/{index}", Settings())


def test_password_never_shown() -> None:
    store = ElasticsearchStore.from_url("elasticsearch+https://user:s3cr%2Ft@h:9243/i", Settings())
    try:
        assert store.as_uri() == "elasticsearch+https://user:**@h:9243/i"
        assert "s3cr" not in repr(store) and "s3cr" not in repr(store.config)
        assert store.as_uri(include_password=True) == "elasticsearch+https://user:s3cr%2Ft@h:9243/i"
    finally:
        store.close()


# -- round trips -----------------------------------------------------------------------------
def test_first_write_is_one_create_and_reads_batch(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    ids = [_uid() for _ in range(50)]
    with requests_of(store) as log:
        backend.mark_as_done(ids[0], 1)
    assert log == [("PUT", f"/{store.index}/_create/celery-task-meta-{ids[0]}")] or \
        log == [("PUT", f"/{store.index}/_doc/celery-task-meta-{ids[0]}")]
    with requests_of(store) as log:
        metas = backend.get_many(ids)
    assert log == [("POST", f"/{store.index}/_mget")]
    assert [m["status"] for m in metas.values()].count(states.SUCCESS) == 1


def test_overwrite_is_create_get_conditional_update(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_started(task_id)
    with requests_of(store) as log:
        backend.mark_as_done(task_id, 2)
    assert [path.rsplit("/", 2)[1] for _, path in log] == ["_doc", "_doc", "_update"]
    assert backend.get_task_meta(task_id)["result"] == 2


def test_ready_state_is_not_replaced_by_an_unready_one(ours: MakeBackend) -> None:
    """Celery's ``_update`` rule: a RETRY/STARTED after a FAILURE is dropped."""
    backend = ours()
    task_id = _uid()
    backend.mark_as_failure(task_id, ValueError("x"))
    backend.mark_as_started(task_id)
    assert backend.get_task_meta(task_id)["status"] == states.FAILURE
    backend.mark_as_done(task_id, 3)  # a ready state may replace a FAILURE (task retried)
    assert backend.get_task_meta(task_id)["status"] == states.SUCCESS


def test_overwrite_without_lifetime_clears_the_old_expires(ours: MakeBackend) -> None:
    expiring, forever = ours(result_expires=60), ours(result_expires=0)  # 0: never
    task_id = _uid()
    expiring.mark_as_started(task_id)
    forever.mark_as_done(task_id, 1)
    stored = _store(forever).get_document(f"celery-task-meta-{task_id}")
    assert stored is not None and stored["_source"].get("expires") is None
    later = ElasticsearchStore(_store(forever).config, clock=lambda: datetime.now(timezone.utc)
                               + timedelta(days=30))
    try:
        later.cleanup()
    finally:
        later.close()
    assert forever.get_task_meta(task_id)["result"] == 1


def test_group_and_chord_documents_batched(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    keys = [f"k-{_uid()}" for _ in range(30)]
    with requests_of(store) as log:
        store.set_many(dict.fromkeys(keys, b"v"), None)
        assert store.mget(keys) == [b"v"] * 30
        store.delete_many([*keys, "never-there"])
    assert [path.rsplit("/", 1)[1] for _, path in log] == ["_bulk", "_mget", "_bulk"]
    assert store.mget(keys) == [None] * 30


def test_conflicts_are_elasticsearchs_409(ours: MakeBackend) -> None:
    """What the optimistic-concurrency loops rely on (the stand-in answers as a server does)."""
    store = _store(ours())
    doc_id = f"k-{_uid()}"
    created = store.client.index(index=store.index, id=doc_id, document={"a": 1}, op_type="create")
    with pytest.raises(ConflictError) as info:
        store.client.index(index=store.index, id=doc_id, document={"a": 2}, op_type="create")
    assert info.value.body["error"]["type"] == "version_conflict_engine_exception"
    store.client.index(index=store.index, id=doc_id, document={"a": 3})
    with pytest.raises(ConflictError):
        store.client.update(index=store.index, id=doc_id, doc={"a": 4},
                            if_seq_no=created["_seq_no"], if_primary_term=created["_primary_term"])
    assert store.client.get(index=store.index, id=doc_id)["_source"] == {"a": 3}
    assert created.meta.headers.get("X-Elastic-Product") == "Elasticsearch"


# -- expiry ------------------------------------------------------------------------------------
def test_cleanup_uses_expires_and_timestamp_for_celery_documents(ours: MakeBackend) -> None:
    backend = ours(result_expires=3600)
    store = _store(backend)
    mine, celerys, kept = _uid(), f"celery-task-meta-{_uid()}", f"k-{_uid()}"
    backend.mark_as_done(mine, 1)
    store.client.index(index=store.index, id=celerys, document={
        "result": '{"status": "SUCCESS", "result": 1}', "@timestamp": "2020-01-01T00:00:00.000Z"})
    store.set(kept, b"x", 86400)  # expires tomorrow: kept
    later = ElasticsearchStore(store.config, clock=lambda: datetime.now(timezone.utc)
                               + timedelta(hours=2))
    try:
        query = later.expired_query()
        assert query["bool"]["should"][0]["range"]["expires"]["lt"].endswith("Z")
        assert later.cleanup() >= 2
    finally:
        later.close()
    assert backend.get_task_meta(mine)["status"] == states.PENDING
    assert store.get(celerys) is None
    assert store.get(kept) == b"x"


def test_cleanup_of_a_missing_index_is_zero(es_server_url: str) -> None:
    store = ElasticsearchStore.from_url(f"{es_server_url}/never-{uuid.uuid4().hex[:8]}", Settings())
    try:
        assert store.cleanup() == 0
        assert store.get("x") is None and store.mget(["x", "y"]) == [None, None]
        store.delete("x")
        store.delete_many(["x", "y"])  # a bulk delete into a missing index: 404 items, no error
    finally:
        store.close()


# -- payloads --------------------------------------------------------------------------------
def test_binary_payloads_are_marked_base64(ours: MakeBackend) -> None:
    backend = ours(result_compression="gzip")
    store = _store(backend)
    task_id = _uid()
    backend.mark_as_done(task_id, "z" * 3000)
    stored = store.get_document(f"celery-task-meta-{task_id}")
    assert stored is not None and stored["_source"]["result"].startswith(BINARY_MARK)
    assert ours().get_task_meta(task_id)["result"] == "z" * 3000


def test_hostile_documents_are_decode_errors(ours: MakeBackend) -> None:
    backend = ours()
    store = _store(backend)
    for source in ({"result": {"status": "SUCCESS", "result": "{not json"}},
                   {"result": BINARY_MARK + "***"}):
        task_id = _uid()
        store.client.index(index=store.index, id=f"celery-task-meta-{task_id}", document=source)
        with pytest.raises(DecodeError):
            backend.get_task_meta(task_id)
    task_id = _uid()
    store.client.index(index=store.index, id=f"celery-task-meta-{task_id}", document={"x": 1})
    assert backend.get_task_meta(task_id)["status"] == states.PENDING  # no result: as Celery


# -- retries -----------------------------------------------------------------------------------
def test_exception_safe_to_retry(ours: MakeBackend) -> None:
    store = _store(ours())
    meta = elastic_transport.ApiResponseMeta(503, "1.1", elastic_transport.HttpHeaders(), 0.0,
                                             elastic_transport.NodeConfig("http", "h", 9200))
    assert store.exception_safe_to_retry(ApiError("unavailable", meta, None))
    conflict = elastic_transport.ApiResponseMeta(409, "1.1", elastic_transport.HttpHeaders(), 0.0,
                                                 elastic_transport.NodeConfig("http", "h", 9200))
    assert not store.exception_safe_to_retry(ConflictError("conflict", conflict, None))
    assert store.exception_safe_to_retry(elastic_transport.ConnectionError("refused"))
    assert store.exception_safe_to_retry(elastic_transport.ConnectionTimeout("slow"))
    assert not store.exception_safe_to_retry(ValueError("bug"))


def test_unreachable_server_is_a_clear_error() -> None:
    from resultstore.testing.servers import free_port

    backend = resultstore.connect(f"elasticsearch://user:s3cret@127.0.0.1:{free_port()}/i",
                                  elasticsearch_max_retries=0)
    try:
        with pytest.raises(resultstore.errors.BackendGetMetaError) as info:
            backend.get_task_meta("t")
        chain = [info.value, info.value.__cause__, info.value.__context__]
        assert isinstance(info.value.__cause__ or info.value.__context__,
                          elastic_transport.ConnectionError)
        assert not any("s3cret" in f"{e!s} {e!r}" for e in chain if e is not None)
        assert "s3cret" not in repr(backend) and "s3cret" not in backend.as_uri()
    finally:
        backend.close()


# -- asyncio ---------------------------------------------------------------------------------
def test_asyncio_twin_across_event_loops(ours: MakeBackend) -> None:
    backend = ours()
    ids = [_uid() for _ in range(3)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)

    async def read() -> list[Any]:
        many = await backend.aget_many(ids)
        await backend.astore.set("celery-task-meta-" + ids[0], backend.encode(
            {"status": "SUCCESS", "result": "again", "task_id": ids[0]}), None)
        return [many[t]["result"] for t in ids]

    assert asyncio.run(read()) == ids
    assert asyncio.run(read()) == ["again", *ids[1:]]  # a second loop gets its own client
    backend.cache.discard(ids[0])
    assert backend.get_task_meta(ids[0])["result"] == "again"

    async def delete_and_close() -> None:
        await backend.astore.delete("celery-task-meta-" + ids[1])
        await backend.astore.delete("celery-task-meta-never")
        assert await backend.astore.mget([]) == []
        await backend.astore.aclose()

    asyncio.run(delete_and_close())
    assert backend.get_task_meta(ids[1], cache=False)["status"] == states.PENDING
