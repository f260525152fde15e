"""Chords over rpc: ``celery.chord_unlock`` reading a per-chord parts queue.

Celery's RPCBackend refuses chords: header results go to the client's reply
queue, which the worker running ``celery.chord_unlock`` cannot read.  Here:

1. the client's ``apply_chord`` declares ``resultstore.rpc.chord.<group_id>``
   (``x-expires`` = ``result_chord_expires``) before the header is sent, and
   sends ``celery.chord_unlock`` as Celery does, with one extra keyword naming
   that queue;
2. a worker finishing a header task publishes its result to the client as
   usual **and** a copy to the parts queue (``on_chord_part_return``);
3. inside ``celery.chord_unlock``, reads copy the parts queue into the
   worker's buffer without consuming it (``basic_get`` + requeue, once per
   unlock attempt), so any worker can run the next retry;
4. once the unlock has joined the header, the parts queue is deleted.

Both the client and the workers must use this backend; a chord whose header
ran on a worker with Celery's own RPCBackend never completes (that backend
sends no parts).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from resultstore.backend import ResultBackend

from .messages import parts_queue, parts_queue_name
from .replace import redirect_chord_body

if TYPE_CHECKING:
    from .store import RPCStore

__all__ = ["RPCChordMixin", "CHORD_QUEUE_KWARG"]

log = logging.getLogger("resultstore.rpc")

#: Keyword of ``celery.chord_unlock`` naming the chord's parts queue (ignored by Celery).
CHORD_QUEUE_KWARG = "resultstore_rpc_parts"


def _unlock_scope() -> tuple[str, tuple[Any, Any]] | None:
    """``(parts queue, attempt)`` when running inside a ``celery.chord_unlock`` we sent."""
    from celery._state import get_current_task

    task = get_current_task()
    if task is None or getattr(task, "name", None) != "celery.chord_unlock":
        return None
    request = task.request
    queue = (getattr(request, "kwargs", None) or {}).get(CHORD_QUEUE_KWARG)
    if not queue:
        return None
    return str(queue), (request.id, request.retries)


class RPCChordMixin:
    """Chord methods of :class:`~resultstore_rpc.host.RPCBackend`."""

    app: Any
    backend: ResultBackend
    store: RPCStore

    # provided by the host class (annotations only: no stub in the MRO)
    publish_meta: Callable[..., None]
    _chord_meta: Callable[..., dict[str, Any]]

    _peeked = threading.local()

    # -- client ---------------------------------------------------------------------
    def apply_chord(self, header_result_args: Sequence[Any], body: Any, **kwargs: Any) -> None:
        """Declare the chord's parts queue, then send ``celery.chord_unlock`` (Celery's fallback)."""
        queue = parts_queue(str(header_result_args[0]), self.store.options.chord_expires)
        with self.app.producer_or_acquire() as producer:
            queue(producer.channel).declare()
        super().apply_chord(header_result_args, body, **kwargs)  # type: ignore[misc]

    def fallback_chord_unlock(self, header_result: Any, body: Any, countdown: float = 1,
                              **kwargs: Any) -> None:
        kwargs[CHORD_QUEUE_KWARG] = parts_queue_name(str(header_result.id))
        redirect_chord_body(self.app, body)
        super().fallback_chord_unlock(header_result, body, countdown, **kwargs)  # type: ignore[misc]

    # -- worker: a header task finished ---------------------------------------------------
    def on_chord_part_return(self, request: Any, state: str, result: Any, **kwargs: Any) -> None:
        """Copy the part to the chord's parts queue (its result already went to the client)."""
        group_id, task_id = getattr(request, "group", None), getattr(request, "id", None)
        if not group_id or not task_id:
            return
        queue = parts_queue(str(group_id), self.store.options.chord_expires)
        meta = self._chord_meta(str(task_id), result, state, request)
        self.publish_meta(queue.name, str(task_id), meta, declare=[queue])

    # -- worker: inside celery.chord_unlock ---------------------------------------------------
    def _read_parts(self) -> str | None:
        """Copy the parts queue into the buffer, once per unlock attempt; return its name."""
        scope = _unlock_scope()
        if scope is None:
            return None
        name, attempt = scope
        if getattr(self._peeked, "attempt", None) != (name, attempt):
            self.store.peek(name)
            self._peeked.attempt = (name, attempt)
        return name

    def get_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        self._read_parts()
        return super().get_task_meta(task_id, cache=cache)  # type: ignore[misc, no-any-return]

    def iter_native(self, result: Any, timeout: float | None = None, interval: float = 0.5,
                    no_ack: bool = True, on_message: Callable[[Any], Any] | None = None,
                    on_interval: Callable[[], Any] | None = None) -> Iterator[tuple[str, Any]]:
        """``join_native``; inside ``celery.chord_unlock`` the parts queue is deleted after it."""
        name = self._read_parts()
        try:
            yield from super().iter_native(  # type: ignore[misc]
                result, timeout=timeout, interval=interval, no_ack=no_ack,
                on_message=on_message, on_interval=on_interval)
        finally:
            if name is not None:
                self._finish_chord(name)

    def _finish_chord(self, name: str) -> None:
        # The copied parts stay in the buffer (bounded) for the unlock's error report
        # (``_failed_join_report`` asks ``is_cached``); the queue itself goes now.
        try:
            self.store.delete_queue(name)
        except Exception as exc:  # noqa: BLE001 - the queue expires by itself (x-expires)
            log.warning("rpc: could not delete chord parts queue %s: %r", name, exc)
