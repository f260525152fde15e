"""Chord join helper for hosts: "record this header part; was it the last?".

Exactly one caller per chord gets the header values back (core's chord
primitive guarantees it, natively or with an atomic counter); every other call
gets ``None``.  Stores that can count neither raise
:class:`~resultstore.errors.NotSupported`: poll the header instead
(``GroupResult.restore(group_id, backend).join_native()``).

    backend.set_chord_size(group_id, 3)            # once, before the header runs
    values = chord_join(backend, group_id, task_id, index, "SUCCESS", 42)
    if values is not None:                           # this part completed the chord
        run_body(values)
        backend.chord_done(group_id)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..chords import values_or_raise

if TYPE_CHECKING:
    from ..backend import ResultBackend

__all__ = ["chord_join", "achord_join"]


def chord_join(backend: ResultBackend, group_id: str, task_id: str, index: int | None,
               state: str, result: Any) -> list[Any] | None:
    """Record one header part; the ordered header values iff this call completed the chord.

    Raises :class:`~resultstore.errors.ChordError` (from the completing call) when a
    header part failed or was revoked, as Celery fails the chord body.
    """
    parts = backend.chord_part_return(group_id, task_id, index, state, result)
    return None if parts is None else values_or_raise(parts)


async def achord_join(backend: ResultBackend, group_id: str, task_id: str, index: int | None,
                      state: str, result: Any) -> list[Any] | None:
    """The asyncio twin of :func:`chord_join` (runs in a worker thread)."""
    return await asyncio.to_thread(chord_join, backend, group_id, task_id, index, state, result)
