"""Concurrency checks shared by the conformance kit and plugins' own contention tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .. import states
from ..backend import ResultBackend

__all__ = ["chords_complete_once", "guarded_writes_keep_success"]


def chords_complete_once(backends: Sequence[ResultBackend], groups: int, size: int, *,
                         copies: int = 1, threads: int = 8) -> None:
    """``groups`` chords of ``size`` parts, each part delivered ``copies`` times through
    rotating ``backends`` from ``threads`` threads: every chord completes exactly once,
    with all its values in order."""
    group_ids = [f"g-{uuid.uuid4()}" for _ in range(groups)]
    for group_id in group_ids:
        backends[0].set_chord_size(group_id, size)
    jobs = [(g, i, c) for g in group_ids for i in range(size) for c in range(copies)]
    completions: list[str] = []
    lock = threading.Lock()

    def part(job: tuple[str, int, int]) -> None:
        group_id, index, copy = job
        backend = backends[(index + copy) % len(backends)]
        parts = backend.chord_part_return(group_id, f"{group_id}-{index}", index,
                                          states.SUCCESS, index)
        if parts is not None:
            assert [p.result for p in parts] == list(range(size))
            with lock:
                completions.append(group_id)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, jobs))
    assert sorted(completions) == sorted(group_ids)


def guarded_writes_keep_success(backends: Sequence[ResultBackend], rounds: int) -> None:
    """One SUCCESS racing FAILUREs from the other ``backends``: the SUCCESS stays, every round."""
    for round_ in range(rounds):
        task_id = f"race-{round_}-{uuid.uuid4()}"
        barrier = threading.Barrier(len(backends))

        def write(i: int, task_id: str = task_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            if i == 0:
                backends[i].mark_as_done(task_id, "ok")
            else:
                backends[i].mark_as_failure(task_id, ValueError(str(i)))

        with ThreadPoolExecutor(len(backends)) as pool:
            list(pool.map(write, range(len(backends))))
        final = backends[0].get_task_meta(task_id, cache=False)
        assert (final["status"], final["result"]) == (states.SUCCESS, "ok")
