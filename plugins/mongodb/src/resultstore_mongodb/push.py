"""Push wake-ups from a MongoDB change stream on the task collection.

Change streams exist on replica sets and sharded clusters only.  Opening the subscriber
probes the deployment with one ``hello``: a standalone server (or a stand-in without
change streams) raises :class:`~resultstore.errors.NotSupported` and the waits of that
backend poll instead.  Otherwise one daemon thread per backend follows
``watch([{$match: insert/replace/update}], full_document="updateLookup")`` and hands the
stored meta of every subscribed task to the waiter.  When the stream breaks (election,
lost connection) it is reopened with its resume token, then ``on_reconnect`` makes the
waiter re-read every waited id, so nothing written meanwhile is missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymongo.errors import OperationFailure, PyMongoError

from resultstore.errors import NotSupported
from resultstore.spec import MetaMessageHandler

if TYPE_CHECKING:
    from .store import MongoStore

__all__ = ["ChangeStreamSubscriber", "supports_change_streams"]

log = logging.getLogger(__name__)

#: Operations that write a result document.
PIPELINE = [{"$match": {"operationType": {"$in": ["insert", "replace", "update"]}}}]
#: How long one ``getMore`` of the stream waits on the server (bounds the reaction to close()).
MAX_AWAIT_MS = 500


def supports_change_streams(client: Any) -> bool:
    """True for replica set members and mongos routers (one ``hello`` round trip).

    A server that cannot be reached raises (the wait polls and the next one probes again);
    a client without ``hello`` (a stand-in) or a refused command means no.
    """
    try:
        hello = client.admin.command("hello")
    except (OperationFailure, NotImplementedError, AttributeError, TypeError):
        return False
    return bool(isinstance(hello, dict) and (hello.get("setName") or hello.get("msg") == "isdbgrid"))


class ChangeStreamSubscriber:
    """The waiter's push channel on one backend; see the module docstring."""

    def __init__(self, store: MongoStore, on_message: MetaMessageHandler,
                 on_reconnect: Callable[[], None]) -> None:
        self.store = store
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name="resultstore-mongodb-push",
                                        daemon=True)

    @classmethod
    def open(cls, store: MongoStore, on_message: MetaMessageHandler,
             on_reconnect: Callable[[], None]) -> ChangeStreamSubscriber:
        if not supports_change_streams(store.client):
            raise NotSupported("MongoDB change streams need a replica set or a sharded cluster")
        subscriber = cls(store, on_message, on_reconnect)
        try:
            subscriber._stream = subscriber._watch(None)  # opened before the first re-read
        except OperationFailure as exc:  # e.g. the user lacks the changeStream privilege
            raise NotSupported(f"cannot open a MongoDB change stream: {exc}") from exc
        subscriber._thread.start()
        return subscriber

    def subscribe(self, key: str) -> None:
        with self._lock:
            self._ids.add(key)

    def unsubscribe(self, key: str) -> None:
        with self._lock:
            self._ids.discard(key)

    def _watch(self, resume_token: Any) -> Any:
        return self.store.tasks.watch(PIPELINE, full_document="updateLookup",
                                      resume_after=resume_token, max_await_time_ms=MAX_AWAIT_MS)

    def _run(self) -> None:
        delay, token = 0.1, None
        while not self._closed.is_set():
            try:
                if self._stream is None:
                    self._stream = self._watch(token)
                    self.on_reconnect()
                    delay = 0.1
                self._follow(self._stream)
            except PyMongoError as exc:
                if self._closed.is_set():
                    return
                token = getattr(self._stream, "resume_token", None) or token
                log.warning("resultstore: MongoDB change stream lost (%s: %s); reopening",
                            type(exc).__name__, exc)
                self._drop_stream()
                self._closed.wait(delay)
                delay = min(delay * 2, 5.0)

    def _follow(self, stream: Any) -> None:
        while not self._closed.is_set() and stream.alive:
            change = stream.try_next()
            if change is None:
                continue
            document = change.get("fullDocument")
            task_id = (change.get("documentKey") or {}).get("_id")
            with self._lock:
                wanted = task_id in self._ids
            if not wanted or document is None:
                continue
            meta = self.store._meta(document, self.store.clock())
            if meta is not None:
                self.on_message(str(task_id), meta)

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except PyMongoError:
                pass

    def close(self) -> None:
        self._closed.set()
        self._drop_stream()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2 * MAX_AWAIT_MS / 1000 + 1)
