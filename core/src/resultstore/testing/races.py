"""Concurrency checks shared by the conformance kit and plugins' own contention tests."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import states
from ..backend import ResultBackend
from ..connect import connect

__all__ = ["chords_complete_once", "chords_complete_once_across_processes",
           "guarded_writes_keep_success"]


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


def _chord_worker(args: tuple[str, dict[str, Any], list[tuple[str, int]]]
                  ) -> list[tuple[str, list[Any]]]:
    url, settings, jobs = args
    backend = connect(url, settings)
    completed = []
    try:
        for gid, index in jobs:
            parts = backend.chord_part_return(gid, f"{gid}-{index}", index, states.SUCCESS, index)
            if parts is not None:
                completed.append((gid, [p.result for p in parts]))
                backend.chord_done(gid)
    finally:
        backend.close()
    return completed


def chords_complete_once_across_processes(url: str, settings: Mapping[str, Any] | None = None,
                                          *, chords: int, size: int, processes: int,
                                          duplicated: float, timeout: float = 300) -> None:
    """``chords`` chords of ``size`` parts from ``processes`` spawned processes (each with its
    own client for ``url`` and ``settings``), a ``duplicated`` share of the parts delivered a
    second time (as a broker redelivers): every chord completes exactly once, parts in order."""
    run = uuid.uuid4().hex[:8]
    conf = dict(settings or {})
    groups = [f"mp-{run}-{c}" for c in range(chords)]
    setup = connect(url, conf)
    for gid in groups:
        setup.set_chord_size(gid, size)
    setup.close()
    rng = random.Random(run)
    jobs = [(gid, i) for gid in groups for i in range(size)]
    jobs += rng.sample(jobs, int(len(jobs) * duplicated))  # redelivered: a second copy each
    rng.shuffle(jobs)
    shares = [(url, conf, jobs[p::processes]) for p in range(processes)]
    start = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map_async(_chord_worker, shares).get(timeout)
    elapsed = time.monotonic() - start
    completions: Counter[str] = Counter()
    for completed in results:
        for gid, values in completed:
            completions[gid] += 1
            assert values == list(range(size)), f"{gid}: parts out of order: {values}"
    print(f"\n{processes} processes: {len(jobs)} part deliveries ({len(jobs) - chords * size} "
          f"duplicates) into {chords} chords in {elapsed:.1f}s")
    assert completions == Counter(groups)
