"""The consumer thread of one client: every state message of its reply queue(s), pushed.

* One connection and one ``basic_consume`` (``no_ack``, as Celery's result
  consumer) per store, started by core's waiter the first time a wait is not
  satisfied by a plain read.  Messages arrive in queue order; each is recorded
  in the store's buffer and, if a waiter subscribed its task, pushed to it.
* ``subscribe(key)`` only registers interest: the queue carries every task of
  the client, so there is no broker round trip.  Recording a message and
  checking the interest happen under one lock, so a waiter that subscribes and
  then re-reads the buffer never misses a state.
* A lost connection is reopened with backoff; the queues are declared again
  and ``on_reconnect`` lets core re-read.  States published while the client
  was disconnected are lost: RabbitMQ deleted the auto-delete queue when its
  only consumer went away (the inherent limit of reply queues).
* After ``fork()`` the child restarts the thread on its first subscription.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kombu

from resultstore.spec import MessageHandler

from .store import LOST

if TYPE_CHECKING:
    from .store import RPCStore

__all__ = ["ReplyConsumer"]

log = logging.getLogger("resultstore.rpc")

#: Seconds one ``drain_events`` blocks before the thread looks at its commands again.
_TICK = 0.1


class ReplyConsumer:
    """The shared push channel of one :class:`~resultstore_rpc.store.RPCStore`."""

    #: Seconds the constructor waits for the consumer to start (then core re-reads anyway).
    start_timeout = 5.0

    def __init__(self, store: RPCStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None]) -> None:
        self._store = store
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._refs: dict[str, int] = {}
        self._consumed: set[str] = set()
        self._consuming = threading.Event()
        self._closed = threading.Event()
        self._connection: kombu.Connection | None = None
        self._start_errors: list[BaseException] = []
        #: Connections opened so far (1 + reconnects); for inspection and tests.
        self.connections = 0
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resultstore-rpc-consumer",
                                        daemon=True)
        self._thread.start()
        self._started.wait(self.start_timeout)
        if self._start_errors:
            # Core's waiter polls instead when the push channel cannot start.
            self.close()
            raise self._start_errors[0]

    # -- public ---------------------------------------------------------------------
    @property
    def keys(self) -> frozenset[str]:
        """The keys currently subscribed (for inspection and tests)."""
        with self._lock:
            return frozenset(self._refs)

    @property
    def consuming(self) -> bool:
        return self._consuming.is_set()

    def subscribe(self, key: str) -> None:
        """Push new states of ``key`` until as many ``unsubscribe`` calls."""
        if self._pid != os.getpid():
            refs = dict(self._refs)
            self._start()  # forked: the parent's thread does not exist here
            with self._lock:
                self._refs.update(refs)
        with self._lock:
            self._refs[key] = self._refs.get(key, 0) + 1

    def unsubscribe(self, key: str) -> None:
        with self._lock:
            count = self._refs.get(key, 0)
            if count > 1:
                self._refs[key] = count - 1
            else:
                self._refs.pop(key, None)

    def close(self) -> None:
        """Stop consuming and close the connection."""
        self._closed.set()
        if self._thread is not threading.current_thread() and self._pid == os.getpid():
            self._thread.join(5)
        self._store.consumer_closed(self)

    # -- the thread ---------------------------------------------------------------------
    def _deliver(self, message: Any) -> None:
        with self._lock:
            state = self._store.accept_message(message)
            key = None if state is None else self._store.keys.task(state.task_id)
            push = key is not None and key in self._refs
        if push and state is not None and key is not None:
            try:
                self._on_message(key, state.body)
            except Exception:  # the waiter layer's bug must not stop delivery
                log.exception("rpc: on_message callback failed")

    def _run(self) -> None:
        delay, connected_before = 0.0, False
        while not self._closed.is_set():
            try:
                consumer = self._open()
            except Exception as exc:  # noqa: BLE001 - reported to the constructor or retried
                self._disconnect()
                if not connected_before:  # the constructor raises it
                    self._start_errors.append(exc)
                    self._started.set()
                    return
                delay = min(2.0, max(0.1, delay * 2))
                log.warning("rpc: result consumer cannot reconnect (%s: %s); retrying in %.1fs",
                            type(exc).__name__, exc, delay)
                self._closed.wait(delay)
                continue
            self.connections += 1
            self._started.set()
            if connected_before:
                try:
                    self._on_reconnect()  # core re-reads every waited task
                except Exception:
                    log.exception("rpc: on_reconnect callback failed")
            connected_before, delay = True, 0.0
            try:
                self._serve(consumer)
            except LOST as exc:
                if not self._closed.is_set():
                    log.warning("rpc: result consumer lost its connection (%s: %s); reconnecting",
                                type(exc).__name__, exc)
            except Exception:  # keep serving: a bug here must not leave waiters hanging
                if not self._closed.is_set():
                    log.exception("rpc: result consumer failed; restarting")
                    delay = 1.0
            finally:
                self._consuming.clear()
                self._store.set_consuming(False)
                self._disconnect()
            self._closed.wait(delay)

    def _open(self) -> kombu.Consumer:
        connection = self._connection = self._store.connect()
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        names = self._store.queue_names
        queues = [self._store.queue(name)(channel) for name in names]
        for queue in queues:
            queue.declare()
        self._consumed = set(names)
        consumer = kombu.Consumer(channel, queues, on_message=self._deliver, no_ack=True,
                                  auto_declare=False)
        self._store.set_consuming(True)  # waits for a running poll: no message overtakes it
        consumer.consume()
        self._consuming.set()
        return consumer

    def _serve(self, consumer: kombu.Consumer) -> None:
        connection = self._connection
        assert connection is not None
        while not self._closed.is_set():
            self._follow_queues(consumer)
            try:
                connection.drain_events(timeout=_TICK)
            except TimeoutError:  # socket.timeout: nothing arrived this tick
                pass
            connection.heartbeat_check()

    def _follow_queues(self, consumer: kombu.Consumer) -> None:
        """Consume reply queues the store gained since (another sending thread), within a tick."""
        for name in self._store.queue_names:
            if name not in self._consumed:
                queue = self._store.queue(name)(consumer.channel)
                queue.declare()
                consumer.add_queue(queue)
                consumer.consume()
                self._consumed.add(name)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def __repr__(self) -> str:
        state = "consuming" if self.consuming else "connecting"
        return f"<ReplyConsumer {state} keys={len(self._refs)}>"
