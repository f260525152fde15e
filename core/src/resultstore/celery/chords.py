"""Chords for the Celery host: counted by the store, or polled by ``celery.chord_unlock``.

Stores that can count parts (``ResultBackend.supports_native_chords``: the
CHORD or INCR capability) complete a chord in the worker that returns the
last header part, exactly once (core's ``chord_part_return``), like Celery's
Redis backend.  Other stores get Celery's generic behaviour: ``apply_chord``
sends the app's ``celery.chord_unlock`` task, which polls the header and then
calls the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from .. import states
from ..backend import ResultBackend
from ..chords import ChordPart
from ..errors import ChordClaimLost
from ._compat import celery_chord_error, chord_error_with_cause

__all__ = ["ChordMixin"]

logger = logging.getLogger("resultstore.celery")


class ChordMixin:
    """Chord methods of :class:`~resultstore.celery.CeleryBackend`."""

    app: Any
    backend: ResultBackend

    # provided by the host class and FailureMixin (annotations only: no stub in the MRO)
    restore_group: Callable[..., Any]
    chord_error_from_stack: Callable[..., Any]

    def ensure_chords_allowed(self) -> None:
        """Chords work on every store (natively or with ``celery.chord_unlock``)."""

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        """Record how many parts the chord of ``group_id`` has (before the last is sent)."""
        if self.backend.supports_native_chords:
            self.backend.set_chord_size(group_id, chord_size)

    def add_to_chord(self, group_id: str, result: Any) -> None:
        """``Task.add_to_chord``: expect one more part (stores that count parts).

        Stores that cannot count are joined by ``celery.chord_unlock`` over a
        fixed header, so they refuse, as Celery's generic backends do.
        """
        if not self.backend.supports_native_chords:
            raise NotImplementedError(
                f"{type(self.backend.store).__name__} cannot count chord parts (its chords are "
                f"joined by celery.chord_unlock over a fixed header); add_to_chord needs a store "
                f"with chord_add or incr (e.g. redis, file, memcached).")
        self.backend.add_to_chord(group_id)

    def apply_chord(self, header_result_args: Sequence[Any], body: Any, **kwargs: Any) -> None:
        """Prepare a chord whose header is about to be sent.

        Counting stores save the header only when it nests groups (its shape
        is needed for the join), as Celery's Redis backend; the others send
        ``celery.chord_unlock``.
        """
        self.ensure_chords_allowed()
        if not self.backend.supports_native_chords:
            header_result = self.app.GroupResult(*header_result_args)
            self.fallback_chord_unlock(header_result, body, **kwargs)
            return
        from celery.result import GroupResult
        from celery.utils.functional import _regen

        if isinstance(header_result_args[1], _regen):
            return
        header_result = self.app.GroupResult(*header_result_args)
        if any(isinstance(r, GroupResult) for r in header_result.results):
            ttl = _chord_result_expires(self.backend)
            self.backend._write("save_group", self.backend.records.put_group,
                                str(header_result.id), {"result": header_result.as_tuple()}, ttl)

    def fallback_chord_unlock(self, header_result: Any, body: Any, countdown: float = 1,
                              **kwargs: Any) -> None:
        """Send ``celery.chord_unlock`` for the header, routed like the body (Celery's rules)."""
        from celery.exceptions import NotRegistered

        kwargs["result"] = [r.as_tuple() for r in header_result]
        try:
            body_type = getattr(body, "type", None)
        except NotRegistered:
            body_type = None
        queue = body.options.get("queue", getattr(body_type, "queue", None))
        if queue is None:
            queue = self.app.amqp.router.route(kwargs, body.name)["queue"].name
        priority = body.options.get("priority", getattr(body_type, "priority", 0))
        stamps = body.options.get("stamped_headers", ())
        routing: dict[str, Any] = {}
        for option in ("exchange", "exchange_type", "routing_key", "headers"):
            value = body.options.get(option)
            if option not in stamps and value is not None:
                routing[option] = value
        if "exchange_type" not in routing:
            try:
                queue_obj = self.app.amqp.queues[queue] if isinstance(queue, str) else queue
                routing["exchange_type"] = queue_obj.exchange.type
            except (AttributeError, KeyError):
                pass
        if "exchange_type" in routing:
            kwargs["_chord_unlock_exchange_type"] = routing["exchange_type"]
        self.app.tasks["celery.chord_unlock"].apply_async(
            (header_result.id, body), kwargs, countdown=countdown, queue=queue,
            priority=priority, **routing)

    def on_chord_part_return(self, request: Any, state: str, result: Any, **kwargs: Any) -> Any:
        """Record a finished header task; the one that completes the chord calls the body."""
        if not self.backend.supports_native_chords:
            return None  # celery.chord_unlock polls the header instead
        task_id, group_id = getattr(request, "id", None), getattr(request, "group", None)
        if not group_id or not task_id:
            return None
        try:
            parts = self.backend.chord_part_return(group_id, task_id,
                                                   getattr(request, "group_index", None),
                                                   state, result)
        except ChordClaimLost as exc:
            logger.warning("%s", exc)
            return None
        if parts is None:
            return None
        from celery.canvas import maybe_signature

        callback = maybe_signature(request.chord, app=self.app)
        try:
            try:
                values = self._join_chord(group_id, parts)
            except Exception as exc:
                logger.exception("Chord %r raised: %r", group_id, exc)
                if not isinstance(exc, celery_chord_error()):
                    exc = chord_error_with_cause(f"Join error: {exc!r}", exc)
                return self.chord_error_from_stack(callback, exc)
            try:
                self.app.amqp._retry_publish(callback.delay, values)
            except Exception as exc:
                logger.exception("Chord callback for %r raised: %r", group_id, exc)
                return self.chord_error_from_stack(
                    callback, chord_error_with_cause(f"Callback error: {exc!r}", exc))
            return None
        finally:
            self._chord_done(group_id)

    def _join_chord(self, group_id: str, parts: list[ChordPart]) -> list[Any]:
        """The header's values for the body; a failed part raises ChordError."""
        from celery.result import allow_join_result

        header_result = self.restore_group(group_id)
        if header_result is not None:  # a nested header, saved by apply_chord: join it
            header_result.on_ready()
            join = (header_result.join_native if header_result.supports_native_join
                    else header_result.join)
            with allow_join_result():
                return join(timeout=self.app.conf.result_chord_join_timeout,  # type: ignore[no-any-return]
                            propagate=True)
        values = []
        for part in parts:
            if part.state in states.PROPAGATE_STATES:
                raise chord_error_with_cause(f"Dependency {part.task_id} raised {part.result!r}",
                                             part.result)
            values.append(part.result)
        return values

    def _chord_done(self, group_id: str) -> None:
        try:
            self.backend.chord_done(group_id)
        except Exception:  # the body is already decided; leftovers expire
            logger.exception("Chord %r: could not clear its bookkeeping", group_id)


def _chord_result_expires(backend: ResultBackend) -> float | None:
    """Celery's ``_chord_result_expires``: never shorter than ``result_expires``."""
    chord, plain = backend.chord_expires, backend.expires
    if not chord or not plain:
        return None
    return max(chord, plain)
