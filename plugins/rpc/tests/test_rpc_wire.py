"""Wire compatibility with Celery 5.7's RPCBackend, and the client's behaviour, on real RabbitMQ.

No worker here: both backends are driven directly (``store_result`` is what
the worker calls) and the messages are inspected on the broker.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kombu
import pytest
from celery import Celery
from celery.app.task import Context
from celery.backends.rpc import RPCBackend as CeleryRPCBackend
from rpc_support import RabbitMQ

import resultstore
from resultstore import states
from resultstore_rpc.host import RPCBackend


class WireError(Exception):
    """Raised on one side, rebuilt with its type on the other."""


@pytest.fixture
def app(broker_url: str) -> Iterator[Celery]:
    app = Celery("rpc-wire", broker=broker_url, set_as_current=False)
    app.conf.result_expires = 3600
    yield app
    app.close()


@pytest.fixture
def make_pair(app: Celery) -> Iterator[Callable[..., tuple[RPCBackend, CeleryRPCBackend]]]:
    """Ours and Celery's backend on one app (and this thread): one client, one reply queue."""
    opened: list[RPCBackend] = []

    def make(**conf: Any) -> tuple[RPCBackend, CeleryRPCBackend]:
        app.conf.update(conf)
        ours = RPCBackend(app=app, url="rpc://")
        opened.append(ours)
        return ours, CeleryRPCBackend(app=app)

    yield make
    for backend in opened:
        backend.close()


def request_for(task_id: str, reply_to: str, **extra: Any) -> Context:
    return Context(id=task_id, reply_to=reply_to, correlation_id=task_id, children=[],
                   delivery_info={"routing_key": "celery"}, **extra)


def take(broker_url: str, queue: str) -> list[Any]:
    """Every message waiting on ``queue`` (consumed), in order."""
    with kombu.Connection(broker_url) as connection:
        bound = kombu.Queue(queue, no_declare=True)(connection.default_channel)
        taken = []
        while (message := bound.get(no_ack=True)) is not None:
            taken.append(message)
        return taken


def declared(ours: RPCBackend) -> str:
    """Declare the pair's reply queue the way a client does before sending; return its name."""
    ours.store.declare_queue(ours.store.queue())
    return ours.oid


# -- the state message itself -------------------------------------------------------------------
@pytest.mark.parametrize("persistent", [None, True])
def test_state_messages_match_celerys(make_pair: Callable[..., Any], broker_url: str,
                                      persistent: bool | None) -> None:
    ours, celerys = make_pair(result_persistent=persistent)
    queue = declared(ours)
    task_id = str(uuid.uuid4())
    request = request_for(task_id, queue, group="g-1", parent_id="p-1")
    for backend in (celerys, ours):
        backend.store_result(task_id, {"n": [1, 2.5]}, states.SUCCESS, request=request)
        backend.store_result(task_id, WireError("bad", 2), states.FAILURE, traceback="TB",
                             request=request)
    c_ok, c_bad, o_ok, o_bad = take(broker_url, queue)
    for celery_msg, our_msg in ((c_ok, o_ok), (c_bad, o_bad)):
        wanted = {k: celery_msg.properties.get(k) for k in
                  ("correlation_id", "delivery_mode", "content_type", "content_encoding")}
        assert {k: our_msg.properties.get(k) for k in wanted} == wanted
        assert wanted["delivery_mode"] == (2 if persistent else 1) and wanted["correlation_id"] == task_id
        assert our_msg.delivery_info["routing_key"] == queue and our_msg.delivery_info["exchange"] == ""
        celery_meta, our_meta = json.loads(celery_msg.body), json.loads(our_msg.body)
        assert celery_meta.pop("date_done") and our_meta.pop("date_done")
        assert list(our_meta) == list(celery_meta) and our_meta == celery_meta
    assert ours.persistent is celerys.persistent is bool(persistent)


def test_reply_queue_is_declared_like_celerys(make_pair: Callable[..., Any], rabbitmq: RabbitMQ,
                                              broker_url: str) -> None:
    ours, celerys = make_pair()
    assert ours.oid == celerys.oid  # app.thread_oid
    mine, theirs = ours.binding, celerys.binding
    assert (mine.name, mine.routing_key, mine.exchange.name, mine.durable, mine.auto_delete,
            mine.expires) == (theirs.name, theirs.routing_key, theirs.exchange.name, theirs.durable,
                              theirs.auto_delete, theirs.expires)
    with kombu.Connection(broker_url) as connection:
        channel = connection.default_channel
        theirs(channel).declare()
        mine(channel).declare()  # an argument mismatch would be PRECONDITION_FAILED (406)
    found = rabbitmq.queues()[ours.oid]
    assert found["durable"] and found["auto_delete"]
    assert ["x-expires", "signedint", 3600000] in found["arguments"]


def test_on_task_call_prepares_the_reply_queue(app: Celery, broker_url: str,
                                               rabbitmq: RabbitMQ) -> None:
    app.conf.result_backend = "rpc://"
    backend = app.backend
    assert isinstance(backend, RPCBackend)
    try:
        sent = app.send_task("rpc.nobody", (1,), queue="rpc-wire-nobody")
        (message,) = take(broker_url, "rpc-wire-nobody")
        assert message.properties["reply_to"] == app.thread_oid == backend.oid
        assert message.properties["correlation_id"] == sent.id
        assert backend.oid in rabbitmq.queues()  # declared before the task was published
    finally:
        backend.close()


# -- reading each other's messages (the polling path, no consumer running) --------------------------
def test_each_reads_the_others_messages(make_pair: Callable[..., Any]) -> None:
    ours, celerys = make_pair()
    queue = declared(ours)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    celerys.store_result(ids[0], [1, "a"], states.SUCCESS, request=request_for(ids[0], queue))
    celerys.store_result(ids[1], WireError("c", 1), states.FAILURE, traceback="TB",
                         request=request_for(ids[1], queue))
    assert ours.get_task_meta(ids[0])["result"] == [1, "a"]
    bad = ours.get_task_meta(ids[1])
    assert type(bad["result"]) is WireError and bad["result"].args == ("c", 1)
    ours.store_result(ids[2], {"x": None}, states.SUCCESS, request=request_for(ids[2], queue))
    ours.store_result(ids[3], WireError("o"), states.FAILURE, request=request_for(ids[3], queue))
    assert celerys.get_task_meta(ids[2])["result"] == {"x": None}
    assert type(celerys.get_task_meta(ids[3])["result"]) is WireError


@pytest.mark.filterwarnings("ignore:The RPCBackend result backend cannot store compressed")
def test_compressed_results_are_read_by_celery(make_pair: Callable[..., Any], broker_url: str) -> None:
    """``result_compression`` travels as kombu's ``compression`` header, which Celery undoes.

    (Celery's own RPCBackend ignores ``result_compression``, with a warning.)
    """
    ours, celerys = make_pair(result_compression="gzip")
    queue = declared(ours)
    task_id = str(uuid.uuid4())
    ours.store_result(task_id, "z" * 10000, states.SUCCESS, request=request_for(task_id, queue))
    (message,) = take(broker_url, queue)
    assert message.headers["compression"] == "application/x-gzip"  # kombu inflated the body
    assert json.loads(message.body)["result"] == "z" * 10000
    ours.store_result(task_id, "z" * 10000, states.SUCCESS, request=request_for(task_id, queue))
    assert celerys.get_task_meta(task_id)["result"] == "z" * 10000


def test_groups_are_not_saved_as_in_celery(make_pair: Callable[..., Any], app: Celery) -> None:
    ours, _ = make_pair()
    group = app.GroupResult(str(uuid.uuid4()), [app.AsyncResult("a")])
    with pytest.raises(NotImplementedError):
        ours.save_group(group.id, group)
    with pytest.raises(NotImplementedError):
        ours.restore_group(group.id)


def test_store_without_a_request_needs_a_running_task(make_pair: Callable[..., Any]) -> None:
    ours, _ = make_pair()
    with pytest.raises(RuntimeError, match="missing task request"):
        ours.store_result("lost", 1, states.SUCCESS)
    assert ours.store_result("no-reply", 1, states.SUCCESS, request=Context(id="no-reply")) is None


# -- the client side ------------------------------------------------------------------------------
def test_buffer_is_bounded(make_rpc_backend: Callable[..., resultstore.ResultBackend],
                           caplog: pytest.LogCaptureFixture) -> None:
    backend = make_rpc_backend(resultstore_rpc_buffer_max=3)
    ids = [f"b{i}-{uuid.uuid4()}" for i in range(5)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)
    with caplog.at_level(logging.WARNING, logger="resultstore.rpc"):
        metas = backend.get_many(ids)
    assert [metas[t]["status"] for t in ids] == [states.PENDING] * 2 + [states.SUCCESS] * 3
    assert "reply buffer full" in caplog.text


def test_success_is_kept_over_later_states(make_rpc_backend: Callable[..., resultstore.ResultBackend]
                                           ) -> None:
    """A duplicate delivery after SUCCESS (e.g. a redelivered task) does not replace it."""
    writer, reader = make_rpc_backend(), make_rpc_backend()
    task_id = str(uuid.uuid4())
    writer.store.set(writer.keys.task(task_id),  # type: ignore[union-attr]
                     writer.codec.encode({"status": "SUCCESS", "result": 1, "task_id": task_id}), None)
    writer.store.set(writer.keys.task(task_id),  # type: ignore[union-attr]
                     writer.codec.encode({"status": "STARTED", "result": None, "task_id": task_id}), None)
    assert reader.get_task_meta(task_id)["status"] == states.SUCCESS


def test_waits_survive_a_broker_connection_reset(
        make_rpc_backend: Callable[..., resultstore.ResultBackend], rabbitmq: RabbitMQ) -> None:
    waiter_side, writer = make_rpc_backend(), make_rpc_backend()
    task_id = str(uuid.uuid4())
    got: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: got.update(
        meta=resultstore.AsyncResult(task_id, waiter_side).get(timeout=20, propagate=False)))
    thread.start()
    store = waiter_side.store
    deadline = time.monotonic() + 10
    while not (store.consuming and store._consumer):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    consumer = store._consumer  # type: ignore[attr-defined]
    assert consumer.connections == 1
    assert rabbitmq.ctl("close_all_connections", "test").returncode == 0
    while consumer.connections < 2 or not store.consuming:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the consumer did not reconnect"
        time.sleep(0.02)
    writer.mark_as_done(task_id, "after the reset")
    thread.join(15)
    assert got["meta"] == "after the reset"


def test_a_forked_child_gets_its_own_connection(
        make_rpc_backend: Callable[..., resultstore.ResultBackend]) -> None:
    backend = make_rpc_backend()
    before = str(uuid.uuid4())
    backend.mark_as_done(before, 1)
    assert backend.get_task_meta(before)["result"] == 1  # the parent's connection is open
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            child_id = str(uuid.uuid4())
            backend.mark_as_done(child_id, "child")
            ok = backend.get_task_meta(child_id)["result"] == "child"
            code = 0 if ok and backend.get_task_meta(before)["status"] == states.PENDING else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    after = str(uuid.uuid4())
    backend.mark_as_done(after, 3)
    assert backend.get_task_meta(after)["result"] == 3  # the parent's connection still works


def test_unattributable_messages_are_dropped_not_fatal(
        make_rpc_backend: Callable[..., resultstore.ResultBackend], broker_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    backend = make_rpc_backend()
    task_id = str(uuid.uuid4())
    backend.mark_as_done(task_id, "kept")  # declares the queue, then a foreign message follows
    queue = backend.store.reply_to  # type: ignore[attr-defined]
    with kombu.Connection(broker_url) as connection:
        kombu.Producer(connection.default_channel).publish(
            b"\x00 not a task meta", exchange="", routing_key=queue,
            content_type="application/octet-stream", content_encoding="binary")
    with caplog.at_level(logging.WARNING, logger="resultstore.rpc"):
        assert backend.get_task_meta(task_id)["result"] == "kept"
    assert "without task_id or correlation_id" in caplog.text
