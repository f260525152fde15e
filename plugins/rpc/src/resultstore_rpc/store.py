"""``RPCStore``: results as AMQP messages to the client's reply queue, as Celery's RPCBackend.

rpc is not a key/value store.  A result exists once, as a message on the
queue of the client that sent the task; this store is that client's view:

* ``set(key, value)`` publishes a state message to **this** store's reply
  queue (the worker side publishes to each task's ``reply_to`` instead, see
  :meth:`RPCStore.publish`);
* ``get``/``mget`` take every message waiting on the reply queue(s) into a
  local :class:`~resultstore_rpc.buffer.ReplyBuffer` (``basic_get``) and read
  the latest state of the task from it;
* ``subscriber`` consumes the reply queue(s) on a thread and pushes new
  states to core's waiter (``Capability.SUBSCRIBE``).

What it cannot do, by construction: read a result from another client or
after its reply queue is gone, save groups, count chord parts, list or expire
individual results.  ``docs/plugins-rpc.md`` explains each limit.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import amqp.exceptions
import kombu
import kombu.exceptions

from resultstore.codec import get_serializer
from resultstore.config import Settings
from resultstore.errors import NotSupported, ResultStoreError
from resultstore.keys import Keyspace
from resultstore.spec import Capability, KeyValueStore, MessageHandler

from .buffer import ReplyBuffer
from .config import ConnectionFactory, RPCOptions, broker_connection_factory
from .messages import StateMessage, publish_args, read_message, reply_queue

__all__ = ["RPCStore", "RETRY_POLICY"]

log = logging.getLogger("resultstore.rpc")

T = TypeVar("T")

#: Celery's ``RPCBackend.retry_policy`` for publishing a state message.
RETRY_POLICY = {"max_retries": 20, "interval_start": 0, "interval_step": 1, "interval_max": 1}

#: Errors after which a connection is useless (it is dropped and reopened).
LOST = (OSError, amqp.exceptions.ConnectionError, amqp.exceptions.RecoverableConnectionError,
        kombu.exceptions.OperationalError)

_STORES: weakref.WeakSet[RPCStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Link:
    """One lazily opened connection and channel; callers serialize access."""

    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect
        self.connection: kombu.Connection | None = None
        self.channel: Any = None
        self.declared: set[str] = set()

    def open(self) -> Any:
        if self.channel is None:
            connection = self._connect(heartbeat=0)  # idle between calls: no heartbeats to miss
            try:
                connection.ensure_connection(max_retries=1)
                self.channel = connection.channel()
            except BaseException:
                _close_quietly(connection)
                raise
            self.connection = connection
        return self.channel

    def reset(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        self.declared = set()
        if connection is not None:
            _close_quietly(connection)

    def drop(self) -> None:
        """Forget the connection without closing it (a forked child shares the socket)."""
        connection, self.connection, self.channel = self.connection, None, None
        self.declared = set()
        if connection is not None:
            try:
                connection.collect()
            except Exception:  # noqa: BLE001 - nothing to free in a broken copy
                pass


def _close_quietly(connection: kombu.Connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the connection is being discarded anyway
        pass


class RPCStore(KeyValueStore):
    """One client's reply queue(s) and their local buffer; see the module docstring."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        'broker_use_ssl (ca_certs, certfile, keyfile, cert_reqs) of the amqps:// '
        'broker')

    capabilities = frozenset({Capability.SUBSCRIBE})

    def __init__(self, connect: ConnectionFactory, options: RPCOptions, *,
                 serializer: str = "json", accept: Iterable[str] = ("json",),
                 keys: Keyspace | None = None) -> None:
        self.connect = connect
        self.options = options
        self.serializer = get_serializer(serializer)
        self.accept = frozenset(get_serializer(a).content_type for a in accept)
        self.keys = keys or Keyspace()
        self.buffer = ReplyBuffer(options.buffer_max)
        #: Where the name of this client's reply queue comes from (Celery: ``app.thread_oid``).
        self.reply_to_source: Callable[[], str] = lambda: options.reply_to
        self._reply_to: str | None = None
        self._extra_queues: list[str] = []
        self._io_lock = threading.RLock()
        self._consumer_lock = threading.Lock()
        self._queues_lock = threading.Lock()
        self._link = _Link(lambda **overrides: self.connect(**overrides))
        self._consumer: Any = None  # the ReplyConsumer, while one exists
        self._closed = False
        #: True while the consumer thread receives every reply queue (polls then stay off).
        self.consuming = False
        _STORES.add(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RPCStore:
        """``rpc://``: the broker comes from ``broker_url`` (as Celery, which ignores the rest)."""
        return cls(broker_connection_factory(settings), RPCOptions.from_url(url, settings),
                   serializer=settings.serializer, accept=settings.accept,
                   keys=Keyspace(settings.global_keyprefix))

    # -- the reply queues -----------------------------------------------------------
    @property
    def reply_to(self) -> str:
        """This client's reply queue, resolved on first use (like Celery's cached ``oid``)."""
        if self._reply_to is None:
            with self._queues_lock:
                if self._reply_to is None:
                    self._reply_to = self.reply_to_source()
        return self._reply_to

    @property
    def queue_names(self) -> list[str]:
        return [self.reply_to, *self._extra_queues]

    def queue(self, name: str | None = None) -> kombu.Queue:
        """The reply queue ``name`` (default: this client's), declared as Celery does."""
        return reply_queue(name or self.reply_to, self.options.expires)

    def add_reply_queue(self, name: str) -> None:
        """Also read ``name`` (tasks sent from another thread of a thread-safe client)."""
        own = self.reply_to
        with self._queues_lock:
            if name == own or name in self._extra_queues:
                return
            self._extra_queues = [*self._extra_queues, name]

    # -- channel access ---------------------------------------------------------------
    def _io(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation(channel)`` on the store's own link, reopening a stale one once."""
        with self._io_lock:
            stale = self._link.channel is not None
            while True:
                try:
                    return operation(self._link.open())
                except amqp.exceptions.ChannelError:
                    self._link.reset()  # the broker closed the channel; report the refusal
                    raise
                except LOST:
                    self._link.reset()
                    if not stale:
                        raise
                    stale = False

    def _declare(self, channel: Any, name: str) -> None:
        if name not in self._link.declared:
            self.queue(name)(channel).declare()
            self._link.declared.add(name)

    # -- publishing ---------------------------------------------------------------------
    def publish(self, routing_key: str, correlation_id: str, payload: bytes, *,
                producer: Any = None, declare: Sequence[kombu.Queue] = ()) -> None:
        """Send one state message (``payload``: core-encoded meta) to queue ``routing_key``.

        With ``producer`` (a pooled kombu producer, as Celery's worker uses) the
        publish retries by Celery's policy; otherwise it goes over this store's
        own connection.
        """
        args = publish_args(payload, self.serializer)
        message = args.pop("body")
        kwargs = dict(exchange="", routing_key=routing_key, correlation_id=correlation_id,
                      delivery_mode=self.options.delivery_mode, **args)
        if producer is not None:
            producer.publish(message, retry=True, retry_policy=RETRY_POLICY,
                             declare=list(declare), **kwargs)
            return

        def send(channel: Any) -> None:
            for queue in declare:
                queue(channel).declare()
            kombu.Producer(channel, auto_declare=False).publish(message, **kwargs)

        self._io(send)

    # -- KeyValueStore ------------------------------------------------------------------
    def _task_id(self, key: str, operation: str) -> str:
        task_id = self.keys.task_id_of(key)
        if task_id is None:
            raise NotSupported(
                f"The rpc result backend cannot {operation} {key!r}: results are messages to the "
                f"client that sent the task, so there are no saved groups or chord counters "
                f"(Celery's RPCBackend raises NotImplementedError here too).")
        return task_id

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Publish a state message to this client's own reply queue (``ttl`` does not apply)."""
        task_id = self._task_id(key, "store")
        name = self.reply_to

        def send(channel: Any) -> None:
            self.queue(name)(channel).declare()  # each time: an expired queue would drop it
            self._link.declared.add(name)
            args = publish_args(value, self.serializer)
            kombu.Producer(channel, auto_declare=False).publish(
                args.pop("body"), exchange="", routing_key=name, correlation_id=task_id,
                delivery_mode=self.options.delivery_mode, **args)

        self._io(send)

    def get(self, key: str) -> bytes | None:
        task_id = self._task_id(key, "read")
        self.poll()
        held = self.buffer.get(task_id)
        return None if held is None else held.body

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        task_ids = [self._task_id(key, "read") for key in keys]
        self.poll()
        found = [self.buffer.get(task_id) for task_id in task_ids]
        return [None if held is None else held.body for held in found]

    def delete(self, key: str) -> None:
        """Forget the task's state here (there is nothing on the broker to delete)."""
        self.buffer.discard(self._task_id(key, "delete"))

    # -- reading the queues ----------------------------------------------------------------
    def accept_message(self, message: Any) -> StateMessage | None:
        """Read a received message and record it in the buffer; return it if recorded."""
        state = read_message(message, self.serializer, self.accept)
        if state is None or not self.buffer.put(state):
            return None
        return state

    def poll(self) -> int:
        """Take every waiting message into the buffer (unless the consumer thread does)."""
        if self.consuming:
            return 0
        names = self.queue_names

        def drain(channel: Any) -> int:
            if self.consuming:  # the consumer started while this call waited for the lock
                return 0
            taken = 0
            for name in names:
                self._declare(channel, name)
                queue = self.queue(name)(channel)
                while (message := queue.get(no_ack=False)) is not None:
                    self.accept_message(message)
                    message.ack()  # only once buffered: a lost connection requeues it
                    taken += 1
            return taken

        try:
            return self._io(drain)
        except amqp.exceptions.NotFound:
            # The queue was deleted (auto-delete after a consumer left, or x-expires):
            # its messages are gone; it is declared again on the next read.
            return 0

    def peek(self, name: str) -> int:
        """Copy every message of queue ``name`` into the buffer and leave them on the queue."""
        def copy(channel: Any) -> int:
            bound = kombu.Queue(name, no_declare=True)(channel)
            taken: list[Any] = []
            try:
                while (message := bound.get(no_ack=False)) is not None:
                    taken.append(message)
                    self.accept_message(message)
            finally:
                for message in taken:
                    message.requeue()
            return len(taken)

        try:
            return self._io(copy)
        except amqp.exceptions.NotFound:
            return 0

    def declare_queue(self, queue: kombu.Queue) -> None:
        """Declare ``queue`` on the store's connection."""
        self._io(lambda channel: queue(channel).declare())

    def delete_queue(self, name: str) -> None:
        """Delete queue ``name`` (and every message on it)."""
        self._io(lambda channel: channel.queue_delete(name))

    # -- push ---------------------------------------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> Any:
        """Consume the reply queue(s) on a thread; new states of subscribed keys are pushed."""
        from .consumer import ReplyConsumer

        with self._consumer_lock:  # not the I/O lock: the new thread takes that one to start
            if self._closed:
                raise ResultStoreError("This rpc store is closed.")
            if self._consumer is not None:
                self._consumer.close()
            self._consumer = ReplyConsumer(self, on_message, on_reconnect)
            return self._consumer

    def set_consuming(self, consuming: bool) -> None:
        """Called by the consumer thread: polls stop while it receives every queue."""
        with self._io_lock:  # a poll in progress finishes first: messages stay in order
            self.consuming = consuming

    def consumer_closed(self, consumer: Any) -> None:
        with self._io_lock:
            if self._consumer is consumer:
                self._consumer = None
                self.consuming = False

    # -- lifecycle ------------------------------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Lost connections and timeouts (the broker never half-applies a publish or a get)."""
        return isinstance(exc, LOST)

    def as_uri(self, include_password: bool = False) -> str:
        """Always ``rpc://``, as Celery (whose worker checks it to skip result lookups)."""
        return "rpc://"

    def close(self) -> None:
        """Stop consuming (RabbitMQ then deletes the auto-delete reply queue) and disconnect."""
        with self._consumer_lock:  # waits for a consumer being started, then stops it
            self._closed = True
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()
        with self._io_lock:
            self._link.reset()

    def _after_fork(self) -> None:
        # The child owns none of the parent's connections, threads or messages.
        self._io_lock = threading.RLock()
        self._consumer_lock = threading.Lock()
        self._queues_lock = threading.Lock()
        self._link.drop()
        self.consuming = False  # the consumer (if any) restarts on its next subscription
        self._reply_to = None
        self._extra_queues = []
        self.buffer.clear()

    def __repr__(self) -> str:
        return f"<RPCStore reply_to={self._reply_to or '(unresolved)'}>"
