"""DynamoDBStore specifics and cross-reads with Celery 5.7's own DynamoDBBackend on moto."""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from celery import Celery
from celery.app.backends import by_url
from celery.backends.dynamodb import DynamoDBBackend as CeleryDynamoDBBackend
from celery.result import GroupResult

import resultstore
from resultstore import states
from resultstore.errors import BackendStoreError, ImproperlyConfigured
from resultstore.testing import CallCounter, opened_backends
from resultstore_dynamodb import DynamoDBConfig, DynamoDBStore, item_id, key_of
from resultstore_dynamodb.host import DynamoDBBackend

MakeBackend = Callable[..., resultstore.ResultBackend]


class InteropError(Exception):
    """Rebuilt by module and name on both sides."""


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ours(open_dynamodb: MakeBackend, dynamodb_url: str) -> MakeBackend:
    return functools.partial(open_dynamodb, dynamodb_url)


@pytest.fixture
def celery_dynamodb(dynamodb_url: str) -> CeleryDynamoDBBackend:
    return CeleryDynamoDBBackend(app=Celery("ddb-interop", set_as_current=False), url=dynamodb_url)


def _store(backend: resultstore.ResultBackend) -> DynamoDBStore:
    assert isinstance(backend.store, DynamoDBStore)
    return backend.store


# -- Celery interop ----------------------------------------------------------------------------
def test_celery_writes_resultstore_reads(celery_dynamodb: CeleryDynamoDBBackend,
                                         ours: MakeBackend) -> None:
    backend = ours()
    done, failed, gid = _uid(), "zażółć-" + _uid(), _uid()
    celery_dynamodb.mark_as_done(done, {"v": [1, "ż"]})
    celery_dynamodb.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    celery_dynamodb.save_group(gid, GroupResult(gid, [celery_dynamodb.app.AsyncResult("t1")],
                                                app=celery_dynamodb.app))
    assert backend.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = backend.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["traceback"] == "tb"
    assert backend.get_group_meta(gid) == {"result": [[gid, None], [[["t1", None], None]]]}
    assert [m["status"] for m in backend.get_many([done, failed]).values()] == ["SUCCESS", "FAILURE"]
    backend.mark_as_failure(done, ValueError("late"))  # Celery's SUCCESS is kept
    assert celery_dynamodb.get_task_meta(done)["status"] == states.SUCCESS


def test_resultstore_writes_celery_reads(celery_dynamodb: CeleryDynamoDBBackend,
                                         ours: MakeBackend) -> None:
    backend = ours()
    done, failed, gid = _uid(), "zażółć-" + _uid(), _uid()
    backend.mark_as_done(done, {"v": [1, "ż"]})
    backend.mark_as_failure(failed, InteropError("boom", 2), traceback="tb")
    backend.save_group(gid, [[gid, None], [[["t9", None], None]]])
    assert celery_dynamodb.get_task_meta(done)["result"] == {"v": [1, "ż"]}
    meta = celery_dynamodb.get_task_meta(failed)
    assert type(meta["result"]) is InteropError and meta["result"].args == ("boom", 2)
    assert [r.id for r in celery_dynamodb.restore_group(gid).results] == ["t9"]
    backend.forget(done)
    assert celery_dynamodb.get_task_meta(done)["status"] == states.PENDING


def test_items_have_celerys_layout(celery_dynamodb: CeleryDynamoDBBackend, ours: MakeBackend) -> None:
    store = _store(ours())
    by_celery, by_us = _uid(), _uid()
    celery_dynamodb.store_result(by_celery, [1, 2.5], states.STARTED)
    store_backend = ours()
    store_backend.store_result(by_us, [1, 2.5], states.STARTED)

    def item(task_id: str) -> dict[str, dict[str, object]]:
        found = store.client.get_item(TableName=store.table,
                                      Key={"id": {"S": f"b'celery-task-meta-{task_id}'"}})
        return dict(found["Item"])

    theirs, mine = item(by_celery), item(by_us)
    assert set(theirs) == {"id", "result", "timestamp"} and set(mine) == {"id", "result",
                                                                          "timestamp", "ttl"}
    assert bytes(theirs["result"]["B"]).replace(by_celery.encode(), b"ID") == \
        bytes(mine["result"]["B"]).replace(by_us.encode(), b"ID")


def test_chord_counters_interoperate(celery_dynamodb: CeleryDynamoDBBackend, ours: MakeBackend) -> None:
    store = _store(ours())
    gid = _uid()
    key = f"chord-unlock-{gid}"
    celery_dynamodb.client.put_item(**celery_dynamodb._prepare_init_count_request(
        f"b'{key}'"))  # what Celery's _apply_chord_incr writes
    assert store.incr(key, 60) == 1
    assert celery_dynamodb.incr(key.encode()) == 2
    assert store.incr(key, 60) == 3


def test_celery_loads_the_host_class(dynamodb_url: str) -> None:
    app = Celery("hosted", set_as_current=False)
    cls, url = by_url(dynamodb_url, app.loader)
    assert cls is DynamoDBBackend and url == dynamodb_url
    host = DynamoDBBackend(app=app, url=url)
    assert isinstance(host.backend.store, DynamoDBStore)
    assert "test:**@" in host.as_uri()
    host.backend.close()


# -- expiry ------------------------------------------------------------------------------------
def test_ttl_policy_follows_celery(moto_server: object, dynamodb_url: str) -> None:
    base = dynamodb_url.rsplit("/", 1)[0]
    fixed = resultstore.connect(f"{base}/fixed-{uuid.uuid4().hex[:6]}?ttl_seconds=3600",
                                result_expires=5)
    store = _store(fixed)
    before = time.time()
    fixed.mark_as_done("t", 1)
    raw = store.client.get_item(TableName=store.table, Key={"id": {"S": item_id("celery-task-meta-t")}})
    assert before + 3600 <= int(raw["Item"]["ttl"]["N"]) <= time.time() + 3601
    ttl = store.client.describe_time_to_live(TableName=store.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
    fixed.close()

    never = resultstore.connect(f"{base}/{store.table}?ttl_seconds=-1")
    never.mark_as_done("n", 1)
    raw = store.client.get_item(TableName=store.table, Key={"id": {"S": item_id("celery-task-meta-n")}})
    assert "ttl" not in raw["Item"]
    ttl = store.client.describe_time_to_live(TableName=store.table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "DISABLED"
    never.close()


def test_expired_items_vanish_at_once_without_ttl_deletion(ours: MakeBackend) -> None:
    backend = ours(result_expires=1)
    ids = [_uid() for _ in range(3)]
    for task_id in ids:
        backend.mark_as_done(task_id, 1)
    time.sleep(2.1)
    assert all(m["status"] == states.PENDING for m in backend.get_many(ids).values())
    backend.mark_as_failure(ids[0], ValueError("after expiry"))  # an expired SUCCESS is no guard
    assert backend.get_task_meta(ids[0])["status"] == states.FAILURE


# -- limits, batching, atomicity -------------------------------------------------------------------
def test_oversized_item_is_a_clear_error(ours: MakeBackend) -> None:
    backend = ours()
    with pytest.raises(BackendStoreError, match="at most 400 KB"):
        backend.mark_as_done(_uid(), "x" * (400 * 1024))


def test_batches_of_100_and_25(ours: MakeBackend) -> None:
    store = _store(ours())
    items = {f"k-{_uid()}": str(i).encode() for i in range(130)}
    with CallCounter(store.client).install(("batch_write_item", "batch_get_item")) as counter:
        store.set_many(items, 60)
        keys = [*items, *items, "missing"] * 2  # duplicates are fine
        values = store.mget(keys)
    assert counter.calls["batch_write_item"] == 6 and counter.calls["batch_get_item"] == 2
    assert values[:130] == list(items.values()) and values[260] is None
    store.delete_many(list(items))
    assert store.mget(list(items)) == [None] * 130


def test_incr_counts_exactly_under_threads(ours: MakeBackend) -> None:
    store = _store(ours())
    key = f"chord-unlock-{_uid()}"
    with ThreadPoolExecutor(8) as pool:
        values = sorted(pool.map(lambda _: store.incr(key, 60), range(80)))
    assert values == list(range(1, 81))


def test_requests_repeated_after_lost_responses_count_once(ours: MakeBackend) -> None:
    """botocore retries a request whose response was lost: the second copy must be harmless."""
    backend = ours()
    store = _store(backend)
    real = store.client.update_item

    def delivered_twice(**request: object) -> object:
        real(**request)  # applied, but its response is lost...
        return real(**request)  # ...so the caller gets the outcome of botocore's retry

    group_id = _uid()
    backend.set_chord_size(group_id, 2)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
    store.client.update_item = delivered_twice
    try:
        parts = backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2)
    finally:
        del store.client.update_item
    assert parts is not None and [p.result for p in parts] == [1, 2]
    backend.chord_done(group_id)
    assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is None


# -- URLs, keys, errors ----------------------------------------------------------------------------
def test_item_ids_round_trip() -> None:
    for key in ("celery-task-meta-abc", "celery-task-meta-it's", 'q"uote', "zażółć-🙂"):
        assert item_id(key) == str(key.encode()) and key_of(item_id(key)) == key
    assert key_of("plain-string") is None


def test_url_parsing() -> None:
    settings = resultstore.Settings()
    aws = DynamoDBConfig.from_url("dynamodb://AKIA:s%2Fcret@eu-west-1/tbl?read=5&write=7", settings)
    assert (aws.region, aws.endpoint_url, aws.table_name) == ("eu-west-1", None, "tbl")
    assert (aws.read_capacity_units, aws.write_capacity_units) == (5, 7)
    assert aws.secret_access_key == "s/cret" and "s/cret" not in aws.as_uri()
    local = DynamoDBConfig.from_url("dynamodb://@localhost:8001", settings)
    assert (local.region, local.endpoint_url, local.table_name) == (
        "us-east-1", "http://localhost:8001", "celery")
    custom = DynamoDBConfig.from_url(
        "dynamodb://@us-east-2/t", resultstore.Settings(dynamodb_endpoint_url="http://ddb:9000"))
    assert custom.endpoint_url == "http://ddb:9000"
    with pytest.raises(ImproperlyConfigured, match="both"):
        DynamoDBConfig.from_url("dynamodb://onlykey@us-east-1/t", settings)
    with pytest.raises(ImproperlyConfigured, match="ttl_seconds"):
        DynamoDBConfig.from_url("dynamodb://@us-east-1/t?ttl_seconds=soon", settings)


def test_transient_errors_are_the_retryable_ones() -> None:
    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")

    store = DynamoDBStore.__new__(DynamoDBStore)  # only the predicate is exercised
    assert store.exception_safe_to_retry(client_error("ProvisionedThroughputExceededException"))
    assert store.exception_safe_to_retry(client_error("ThrottlingException"))
    assert not store.exception_safe_to_retry(client_error("ValidationException"))
    assert not store.exception_safe_to_retry(ValueError("x"))


def test_unreachable_endpoint_is_transient_and_reported(open_dynamodb: MakeBackend) -> None:
    from resultstore.testing.servers import free_port

    backend = open_dynamodb(f"dynamodb://test:s3cret@127.0.0.1:{free_port()}/t",
                            result_backend_always_retry=True, result_backend_max_retries=1,
                            result_backend_base_sleep_between_retries_ms=1)  # no I/O yet
    with pytest.raises(BackendStoreError, match="gave up after 1 retries") as info:
        backend.mark_as_done(_uid(), 1)
    assert "s3cret" not in str(info.value) and "s3cret" not in backend.as_uri()


# -- chords at scale (issue 21) ----------------------------------------------------------------
def _deliver_parts(url: str, jobs: list[tuple[str, int]], size: int) -> list[str]:
    """One worker process: deliver its parts (4 threads); return the chords it completed."""
    with opened_backends() as open_backend:
        backend = open_backend(url)

        def deliver(job: tuple[str, int]) -> str | None:
            group_id, index = job
            parts = backend.chord_part_return(group_id, f"{group_id}-{index}", index,
                                              states.SUCCESS, index)
            if parts is None:
                return None
            assert [p.result for p in parts] == list(range(size)), parts
            return group_id

        with ThreadPoolExecutor(4) as pool:
            return [g for g in pool.map(deliver, jobs) if g is not None]


@pytest.mark.slow  # minutes on a loaded 2-core machine: `nox -s slow`
def test_chords_complete_once_across_processes_with_duplicates(ours: MakeBackend,
                                                               dynamodb_url: str) -> None:
    """8 processes x 200 chords x 10 parts, every part delivered twice (by two processes)."""
    processes, chords, size = 8, int(os.environ.get("RS_DDB_MP_CHORDS", 200)), 10
    backend = ours()
    group_ids = [f"mp-{_uid()}" for _ in range(chords)]
    for group_id in group_ids:
        backend.set_chord_size(group_id, size)
    jobs = [(g, i) for g in group_ids for i in range(size)]
    shares: list[list[tuple[str, int]]] = [[] for _ in range(processes)]
    for n, job in enumerate(jobs):
        shares[n % processes].append(job)
        shares[(n + 1 + n % 3) % processes].append(job)  # the redelivered copy, elsewhere
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = [g for found in pool.map(_deliver_parts, [dynamodb_url] * processes, shares,
                                        [size] * processes) for g in found]
    assert sorted(done) == sorted(group_ids)  # each chord completed, and exactly once


def test_chord_parts_cost_constant_round_trips_and_bytes(ours: MakeBackend) -> None:
    """Each part: one put and two small updates, whatever the chord's size (before issue 21 the
    chord item held every member and each update returned it whole: O(n) bytes per part)."""
    backend = ours()
    store = _store(backend)
    group_id, size = _uid(), 200
    backend.set_chord_size(group_id, size)
    real, biggest = store.client.update_item, [0]

    def measured(**request: object) -> object:
        response = real(**request)
        biggest[0] = max(biggest[0], len(repr(response.get("Attributes", {}))))
        return response

    store.client.update_item = measured
    counter = CallCounter(store.client).install(
        ("update_item", "put_item", "get_item", "batch_get_item", "transact_write_items"))
    try:
        for i in range(size - 1):
            assert backend.chord_part_return(group_id, f"{_uid()}", i, states.SUCCESS, i) is None
        before_last = dict(counter.calls)
        parts = backend.chord_part_return(group_id, _uid(), size - 1, states.SUCCESS, size - 1)
    finally:
        counter.uninstall()  # removes ``measured`` too
    assert parts is not None and [p.result for p in parts] == list(range(size))
    assert before_last == {"put_item": size - 1, "update_item": 2 * (size - 1), "get_item": 1}
    assert biggest[0] < 400, biggest  # the chord item's counters, never a member list
