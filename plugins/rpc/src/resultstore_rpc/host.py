"""The Celery host class (entry point ``rpc``): replaces ``celery.backends.rpc:RPCBackend``.

Differences from :class:`resultstore.celery.CeleryBackend`, all because rpc
results are messages, not keys:

* ``store_result`` publishes the state message to the task's ``reply_to``
  queue with ``correlation_id`` (Celery's ``destination_for``), through the
  app's producer pool, delivery mode 2 only with ``result_persistent``;
* ``on_task_call`` declares the sending thread's reply queue before the task
  is published, on the producer's channel (as Celery);
* chords go through ``celery.chord_unlock`` and a parts queue
  (:mod:`resultstore_rpc.chords`);
* a ``Task.replace`` replacement answers the replaced task's caller
  (:mod:`resultstore_rpc.replace`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kombu

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, celery_bases
from resultstore.codec import build_meta
from resultstore.keys import RECORDS

from .chords import RPCChordMixin
from .replace import connect_replace_receiver
from .store import RPCStore

__all__ = ["RPCBackend"]

_ASYNC = ("Celery's asynchronous result consumer; resultstore waits with its own consumer "
          "of the reply queue (AsyncResult.get, join_native)")


class BacklogLimitExceeded(Exception):
    """Too many replies for other tasks on the reply queue (Celery's class name; not raised:
    resultstore bounds its reply buffer instead, see resultstore_rpc_buffer_max)."""


class _Consumer(kombu.Consumer):
    """Celery's ``RPCBackend.Consumer``: queues are declared by hand."""

    auto_declare = False


class _Queue(kombu.Queue):
    """Celery's ``RPCBackend.Queue``: the declaration is never cached."""

    can_cache_declaration = False


#: Constructor keywords of Celery's RPCBackend that have no meaning here (anon exchange).
_CELERY_ONLY_KWARGS = ("connection", "exchange", "exchange_type", "auto_delete")


class RPCBackend(RPCChordMixin, CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.rpc:RPCBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``rpc://`` (results over the broker, to the caller's reply queue).

    With Celery installed it is an instance of Celery's ``RPCBackend`` too; Celery's
    public names resolve to resultstore's code (``tests/test_rpc_celery_surface.py``).
    """

    resultstore_store = RPCStore
    default_url = "rpc://"
    #: Messages need no cleanup task (beat does not schedule ``celery.backend_cleanup``).
    supports_autoexpire = True
    #: Celery's kombu classes and flags (reply queues auto-delete; anonymous direct exchange).
    Exchange = kombu.Exchange
    Producer = kombu.Producer
    Consumer = _Consumer
    Queue = _Queue
    BacklogLimitExceeded = BacklogLimitExceeded
    auto_delete = True
    exchange = kombu.Exchange(None)
    ResultConsumer = CeleryDifference(_ASYNC)
    result_consumer = CeleryDifference(_ASYNC)
    add_pending_results = CeleryDifference(_ASYNC)
    on_result_fulfilled = CeleryDifference(_ASYNC)
    on_out_of_band_result = CeleryDifference(
        "replies for tasks nobody waits for are kept in the bounded reply buffer "
        "(resultstore_rpc_buffer_max), not handed to a hook")

    def poll(self, task_id: str, backlog_limit: int = 1000) -> dict[str, Any]:
        """Celery's ``RPCBackend.poll``: the task's latest meta (one read of the reply queue)."""
        return self.get_task_meta(task_id)

    def on_reply_declare(self, task_id: str) -> None:
        """Nothing to declare when sending a result (the caller's queue exists), as Celery."""
        return None

    def revive(self, channel: Any) -> None:
        """Celery's no-op (the store reconnects by itself)."""

    def __init__(self, app: Any = None, url: str | None = None, persistent: bool | None = None,
                 **kwargs: Any) -> None:
        for name in _CELERY_ONLY_KWARGS:
            kwargs.pop(name, None)
        if persistent is not None:
            kwargs["result_persistent"] = persistent
        super().__init__(app=app, url=url, **kwargs)
        store = self.backend.store
        assert isinstance(store, RPCStore)
        self.store = store
        if app is not None:
            store.connect = app.connection_for_read
            store.reply_to_source = lambda: str(app.thread_oid)
            connect_replace_receiver()
        #: Celery's attributes: ``persistent`` (read by the worker's deduplication) and the mode.
        self.persistent = store.options.persistent
        self.delivery_mode = store.options.delivery_mode

    @property
    def oid(self) -> str:
        """The name of this client's reply queue (Celery's ``RPCBackend.oid``)."""
        return self.store.reply_to

    @property
    def binding(self) -> kombu.Queue:
        """This client's reply queue, as Celery's ``RPCBackend.binding``."""
        return self.store.queue()

    def close(self) -> None:
        """Stop consuming and disconnect (RabbitMQ then deletes the auto-delete reply queue)."""
        self.backend.close()

    def is_cached(self, task_id: str) -> bool:
        """True when a ready state of the task is held locally (the reply buffer is the cache)."""
        held = self.store.buffer.get(str(task_id))
        return super().is_cached(task_id) or (held is not None and held.status in self.READY_STATES)

    # -- sending ----------------------------------------------------------------------
    def on_task_call(self, producer: Any, task_id: str) -> dict[str, Any]:
        """Declare the reply queue before the task is sent (skipped inside prefork children).

        ``send_task`` sets ``reply_to`` to ``app.thread_oid``; that queue is
        declared on the producer's own channel, so it exists before the task
        message does, and this client reads it.
        """
        from celery._state import task_join_will_block
        from kombu.common import maybe_declare

        if task_join_will_block():
            return {}
        name = str(self.app.thread_oid) if self.app is not None else self.store.reply_to
        maybe_declare(self.store.queue(name)(producer.channel), retry=True)
        self.store.add_reply_queue(name)
        return {}

    # -- writing (worker side) ------------------------------------------------------------
    def destination_for(self, task_id: str, request: Any) -> tuple[str | None, str]:
        """``(reply_to, correlation_id)`` of a task's state messages (Celery's rules).

        Without a request the running task's is used, as Celery; when that
        request belongs to another task (e.g. a chord body failed from inside
        ``celery.chord_unlock``) the correlation id is the task's own id.
        """
        if request is None:
            from celery._state import get_current_task

            current = get_current_task()
            request = getattr(current, "request", None)
            if request is None:
                raise RuntimeError(f"RPC backend missing task request for {task_id!r}")
            if getattr(request, "id", None) != task_id:
                return getattr(request, "reply_to", None), str(task_id)
        correlation_id = getattr(request, "correlation_id", None) or task_id
        return getattr(request, "reply_to", None), str(correlation_id)

    def store_result(self, task_id: str, result: Any, state: str, traceback: str | None = None,
                     request: Any = None, **kwargs: Any) -> Any:
        """Send the state to the task's ``reply_to`` queue; no reply queue, nothing to send."""
        reply_to, correlation_id = self.destination_for(str(task_id), request)
        if not reply_to:
            return None
        meta = build_meta(str(task_id), self.encode_result(result, state), state, traceback,
                          request, extended=self.backend.extended, now=self.backend.now)
        self.publish_meta(reply_to, correlation_id, meta)
        return result

    def publish_meta(self, routing_key: str, correlation_id: str, meta: dict[str, Any],
                     declare: Sequence[kombu.Queue] = ()) -> None:
        """Encode ``meta`` with the backend's codec and publish it, under core's retry policy."""
        backend = self.backend
        payload = backend.codec.encode(meta, RECORDS.task(str(meta["task_id"])))
        task_id, state = str(meta["task_id"]), str(meta["status"])

        def send() -> None:
            if self.app is None:
                self.store.publish(routing_key, correlation_id, payload, declare=declare)
                return
            with self.app.amqp.producer_pool.acquire(block=True) as producer:
                self.store.publish(routing_key, correlation_id, payload, producer=producer,
                                   declare=declare)

        backend._write("store_result", send, task_id=task_id, state=state)
        if backend._emit_stored:
            backend.hooks.hook.resultstore_stored(task_id=task_id, state=state, nbytes=len(payload),
                                                  backend=backend)

    def _chord_meta(self, task_id: str, result: Any, state: str, request: Any) -> dict[str, Any]:
        return build_meta(task_id, self.encode_result(result, state), state, None, request,
                          extended=False, now=self.backend.now)
