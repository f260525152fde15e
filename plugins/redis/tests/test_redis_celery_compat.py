"""Wire compatibility with Celery 5.7's own ``celery.backends.redis.RedisBackend``.

Both directions, on a real redis-server and on a real valkey-server: single results, groups, chords whose
parts are recorded partly by Celery and partly by us (each body exactly once),
and a Celery client blocked in ``AsyncResult.get`` (pub/sub only) woken by a
result we store.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from celery import Celery
from celery._state import _set_task_join_will_block
from celery.app.task import Context
from celery.result import AsyncResult, GroupResult
from redis_servers import Deployment

import resultstore
from resultstore import states
from resultstore.chords import values_or_raise
from resultstore.errors import ChordError

pytestmark = [
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
]


class CompatError(Exception):
    """Raised by tasks in these tests; importable by both sides."""


@pytest.fixture(scope="module")
def celery_env(plain_server: Deployment) -> Iterator[dict[str, Any]]:
    """A Celery app whose ``app.backend`` is Celery's own RedisBackend on the test server."""
    port = plain_server.servers[0].port
    app = Celery("rs-compat", broker="memory://", set_as_current=False)
    app.conf.update(result_backend="celery.backends.redis:RedisBackend", redis_host="127.0.0.1",
                    redis_port=port, redis_db=0, task_always_eager=True, task_store_eager_result=True,
                    result_chord_join_timeout=3.0)
    fired: list[tuple[str, Any]] = []

    @app.task(name="compat.body", shared=False)
    def body(results: Any, gid: str = "") -> None:
        fired.append((gid, results))

    from celery.backends.redis import RedisBackend

    assert type(app.backend) is RedisBackend  # Celery's class, not our entry point
    yield {"app": app, "backend": app.backend, "fired": fired, "port": port}
    app.backend.client.connection_pool.disconnect()


@pytest.fixture
def ours(celery_env: dict[str, Any]) -> Iterator[resultstore.ResultBackend]:
    # "redis://" with Celery's redis_host/redis_port settings: the settings path.
    backend = resultstore.connect("redis://", celery_env["app"].conf)
    yield backend
    backend.close()


def _uid(label: str = "c") -> str:
    return f"{label}-{uuid.uuid4()}"


def test_settings_path_reaches_the_same_server(ours: resultstore.ResultBackend,
                                               celery_env: dict[str, Any]) -> None:
    assert ours.as_uri() == f"redis://127.0.0.1:{celery_env['port']}/0"


def test_celery_reads_what_we_store(ours: resultstore.ResultBackend,
                                    celery_env: dict[str, Any]) -> None:
    theirs, app = celery_env["backend"], celery_env["app"]
    ok, bad, rev = _uid(), _uid(), _uid()
    request = Context(id=ok, group="g-1", parent_id="p-1", children=[])
    ours.mark_as_done(ok, {"n": [1, 2]}, request=request)
    ours.mark_as_failure(bad, CompatError("boom", 3), traceback="Traceback: x")
    ours.mark_as_revoked(rev, "terminated")
    meta = theirs.get_task_meta(ok)
    assert (meta["status"], meta["result"], meta["group_id"], meta["parent_id"], meta["task_id"]) == (
        states.SUCCESS, {"n": [1, 2]}, "g-1", "p-1", ok)
    failed = AsyncResult(bad, app=app, backend=theirs)
    assert failed.state == states.FAILURE and failed.traceback == "Traceback: x"
    assert type(failed.result) is CompatError and failed.result.args == ("boom", 3)
    assert type(AsyncResult(rev, app=app, backend=theirs).result).__name__ == "TaskRevokedError"


def test_we_read_what_celery_stores(ours: resultstore.ResultBackend,
                                    celery_env: dict[str, Any]) -> None:
    theirs = celery_env["backend"]
    ok, bad = _uid(), _uid()
    theirs.store_result(ok, {"x": 5}, states.SUCCESS,
                        request=Context(id=ok, group="g-2", children=[]))
    theirs.mark_as_failure(bad, CompatError("bad", 1), traceback="tb")
    meta = ours.get_task_meta(ok)
    assert (meta["status"], meta["result"], meta["group_id"]) == (states.SUCCESS, {"x": 5}, "g-2")
    failed = ours.get_task_meta(bad)
    assert type(failed["result"]) is CompatError and failed["result"].args == ("bad", 1)
    assert failed["traceback"] == "tb"
    # a SUCCESS Celery stored is never overwritten by us, and the reverse
    ours.mark_as_failure(ok, CompatError("late"))
    assert theirs.get_task_meta(ok)["status"] == states.SUCCESS
    ours.mark_as_done(bad, 1)
    mine = _uid()
    ours.mark_as_done(mine, 1)
    theirs.mark_as_failure(mine, CompatError("late"))
    assert ours.get_task_meta(mine)["result"] == 1


def test_stored_bytes_and_expiry_match(ours: resultstore.ResultBackend,
                                       celery_env: dict[str, Any]) -> None:
    theirs = celery_env["backend"]
    raw = redis.Redis(port=celery_env["port"])
    a, b = _uid(), _uid()
    ours.store_result(a, [1, "x"], states.SUCCESS, request=Context(id=a, group="g", children=[]))
    theirs.store_result(b, [1, "x"], states.SUCCESS, request=Context(id=b, group="g", children=[]))
    mine = json.loads(raw.get(f"celery-task-meta-{a}"))
    celerys = json.loads(raw.get(f"celery-task-meta-{b}"))
    assert list(mine) == list(celerys)  # same keys, same order
    for meta in (mine, celerys):
        meta.pop("date_done"), meta.pop("task_id")
    assert mine == celerys
    assert abs(raw.ttl(f"celery-task-meta-{a}") - raw.ttl(f"celery-task-meta-{b}")) <= 1
    raw.close()


def test_groups_both_directions(ours: resultstore.ResultBackend,
                                celery_env: dict[str, Any]) -> None:
    app, theirs = celery_env["app"], celery_env["backend"]
    members = [_uid() for _ in range(3)]
    for i, task_id in enumerate(members):
        ours.mark_as_done(task_id, i)
    theirs_group = GroupResult(_uid("g"), [AsyncResult(t, app=app, backend=theirs) for t in members],
                               app=app, backend=theirs)
    theirs_group.save(backend=theirs)
    assert ours.get_group_meta(theirs_group.id) == {
        "result": json.loads(json.dumps(theirs_group.as_tuple()))}

    our_gid = _uid("g")
    ours.save_group(our_gid, [[our_gid, None], [[[t, None], None] for t in members]])
    restored = GroupResult.restore(our_gid, app=app, backend=theirs)
    assert [r.id for r in restored.results] == members
    assert restored.join_native(timeout=5) == [0, 1, 2]
    ours.delete_group(our_gid)
    assert theirs.restore_group(our_gid) is None


def test_celery_client_woken_by_our_store(ours: resultstore.ResultBackend,
                                          celery_env: dict[str, Any]) -> None:
    """Celery's client never polls: it needs our PUBLISH of the exact payload."""
    app, theirs = celery_env["app"], celery_env["backend"]
    task_id = _uid()
    out: dict[str, Any] = {}

    def wait() -> None:
        start = time.monotonic()
        out["value"] = AsyncResult(task_id, app=app, backend=theirs).get(timeout=10)
        out["waited"] = time.monotonic() - start

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)
    ours.mark_as_done(task_id, "woken")
    thread.join(15)
    assert out["value"] == "woken"
    assert out["waited"] < 3


def test_our_subscriber_sees_celery_stores(ours: resultstore.ResultBackend,
                                           celery_env: dict[str, Any]) -> None:
    task_id = _uid()
    got = threading.Event()
    values: list[bytes] = []

    def on_message(key: str, value: bytes) -> None:
        values.append(value)
        got.set()

    assert isinstance(ours.store, resultstore.KeyValueStore)
    subscriber = ours.store.subscriber(on_message, lambda: None)
    try:
        subscriber.subscribe(ours.keys.task(task_id))
        celery_env["backend"].store_result(task_id, 11, states.SUCCESS)
        assert got.wait(5)
        assert ours.codec.decode_meta(values[0])["result"] == 11
    finally:
        subscriber.close()


@pytest.mark.parametrize("ordered", [True, False], ids=["zset", "list"])
def test_mixed_fleet_chords_complete_exactly_once(celery_env: dict[str, Any],
                                                  ordered: bool) -> None:
    """Half of every chord's parts recorded by Celery, half by us, concurrently."""
    app, fired = celery_env["app"], celery_env["fired"]
    options = {"result_chord_ordered": ordered}
    app.conf.result_backend_transport_options = options
    from celery.backends.redis import RedisBackend

    theirs = RedisBackend(app=app)
    ours = resultstore.connect("redis://", app.conf)
    chords, size = 30, 10
    groups = [_uid("mix") for _ in range(chords)]
    for n, gid in enumerate(groups):
        (theirs if n % 2 else ours).set_chord_size(gid, size)
    ours_completed: list[tuple[str, list[Any]]] = []
    jobs = [(gid, i) for gid in groups for i in range(size)]
    random.Random(7).shuffle(jobs)

    def record(job: tuple[str, int]) -> None:
        gid, i = job
        tid = f"{gid}-{i}"
        if i % 2:
            sig = app.signature("compat.body", kwargs={"gid": gid})
            request = Context(id=tid, group=gid, group_index=i, chord=dict(sig))
            theirs.on_chord_part_return(request, states.SUCCESS, i)
        else:
            parts = ours.chord_part_return(gid, tid, i, states.SUCCESS, i)
            if parts is not None:
                ours_completed.append((gid, values_or_raise(parts)))
                ours.chord_done(gid)

    before = len(fired)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(record, jobs))
    finally:
        # Celery's eager apply toggles a process-wide "join would block" flag without a
        # lock; concurrent eager bodies can leave it set, breaking later result.get().
        _set_task_join_will_block(False)
    theirs_completed = [(gid, res) for gid, res in fired[before:] if gid in groups]
    completions = Counter(gid for gid, _ in ours_completed + theirs_completed)
    assert completions == Counter(groups)  # every chord, exactly once
    for _, results in ours_completed + theirs_completed:
        assert (results if ordered else sorted(results)) == list(range(size))
    assert ours_completed and theirs_completed  # both sides completed some
    # late duplicates after completion are ignored by both sides
    gid = groups[0]
    assert ours.chord_part_return(gid, f"{gid}-0", 0, states.SUCCESS, 0) is None
    app.conf.result_backend_transport_options = {}
    ours.close()


def test_failed_part_recorded_by_celery_fails_our_join(ours: resultstore.ResultBackend,
                                                       celery_env: dict[str, Any]) -> None:
    app, theirs = celery_env["app"], celery_env["backend"]
    gid = _uid("fail")
    ours.set_chord_size(gid, 2)
    sig = app.signature("compat.body", kwargs={"gid": gid})
    theirs.on_chord_part_return(Context(id="bad-part", group=gid, group_index=0, chord=dict(sig)),
                                states.FAILURE, CompatError("nope"))
    parts = ours.chord_part_return(gid, "good-part", 1, states.SUCCESS, 1)
    assert parts is not None and type(parts[0].result) is CompatError
    with pytest.raises(ChordError, match="Dependency bad-part raised"):
        values_or_raise(parts)
    ours.chord_done(gid)


def test_failed_part_recorded_by_us_fails_celerys_body(ours: resultstore.ResultBackend,
                                                       celery_env: dict[str, Any]) -> None:
    app, theirs = celery_env["app"], celery_env["backend"]
    gid = _uid("fail")
    theirs.set_chord_size(gid, 2)
    sig = app.signature("compat.body", kwargs={"gid": gid})
    sig.freeze()
    ours.chord_part_return(gid, "our-bad", 0, states.FAILURE, CompatError("ours"))
    theirs.on_chord_part_return(Context(id="their-ok", group=gid, group_index=1, chord=dict(sig)),
                                states.SUCCESS, 1)
    meta = ours.get_task_meta(sig.id)
    assert meta["status"] == states.FAILURE
    assert "Dependency our-bad raised CompatError('ours')" in str(meta["result"])
