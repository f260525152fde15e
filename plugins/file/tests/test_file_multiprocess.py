"""8 processes write 5,000 results and 500 chord parts into one directory at once.

Nothing may be lost, the chord must complete exactly once (with every part, in
order), and a SUCCESS stored by one process is never overwritten by another
process's late FAILURE.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import resultstore
from resultstore import states

PROCESSES = 8
RESULTS = 5000
PARTS = 500
SHARED = 80
GROUP = "mp-chord"


def _worker(url: str, proc: int, barrier: Barrier, out: Queue[tuple[int, list[int] | None]]) -> None:
    backend = resultstore.connect(url)
    results = [i for i in range(RESULTS) if i % PROCESSES == proc]
    parts = [i for i in range(PARTS) if i % PROCESSES == proc]
    shared = list(range(SHARED))
    jobs: list[tuple[str, int]] = ([("result", i) for i in results] + [("part", i) for i in parts]
                                   + [("shared", i) for i in shared])
    random.Random(proc).shuffle(jobs)
    barrier.wait()
    completed: list[int] | None = None
    completions = 0
    for kind, i in jobs:
        if kind == "result":
            backend.mark_as_done(f"mp-{i}", {"i": i, "by": proc})
        elif kind == "part":
            done = backend.chord_part_return(GROUP, f"part-{i}", i, states.SUCCESS, i * 2)
            if done is not None:
                completions += 1
                completed = [p.result for p in done]
        elif i % PROCESSES == proc:
            backend.mark_as_done(f"shared-{i}", proc)
        else:
            backend.mark_as_failure(f"shared-{i}", ValueError(f"late duplicate from {proc}"))
    out.put((completions, completed))


def test_eight_processes_lose_nothing_and_complete_the_chord_once(result_dir: Path) -> None:
    url = f"file://{result_dir}"
    resultstore.connect(url).set_chord_size(GROUP, PARTS)
    method = "fork" if sys.platform == "linux" else "spawn"
    ctx = multiprocessing.get_context(method)
    barrier = ctx.Barrier(PROCESSES)
    started = time.perf_counter()
    out: Queue[tuple[int, list[int] | None]] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, p, barrier, out)) for p in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcomes = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0
    elapsed = time.perf_counter() - started
    print(f"\n{PROCESSES} processes: {RESULTS} results + {PARTS} chord parts + "
          f"{SHARED * PROCESSES} racing writes in {elapsed:.2f}s")

    assert sum(count for count, _ in outcomes) == 1, outcomes
    completed = next(parts for count, parts in outcomes if count)
    assert completed == [i * 2 for i in range(PARTS)]

    reader = resultstore.connect(url)
    metas = reader.get_many([f"mp-{i}" for i in range(RESULTS)])
    assert all(m["status"] == states.SUCCESS for m in metas.values())
    assert [metas[f"mp-{i}"]["result"]["i"] for i in range(RESULTS)] == list(range(RESULTS))
    assert [metas[f"mp-{i}"]["result"]["by"] for i in range(RESULTS)] == [
        i % PROCESSES for i in range(RESULTS)]
    shared = reader.get_many([f"shared-{i}" for i in range(SHARED)])
    assert [(m["status"], m["result"]) for m in shared.values()] == [
        (states.SUCCESS, i % PROCESSES) for i in range(SHARED)]
    assert sorted(reader.task_ids()) == sorted(
        [f"mp-{i}" for i in range(RESULTS)] + [f"shared-{i}" for i in range(SHARED)])
    assert list((result_dir / ".resultstore" / "tmp").iterdir()) == []
