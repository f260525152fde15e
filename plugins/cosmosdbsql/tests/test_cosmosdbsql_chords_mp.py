"""100 chords x 10 parts from 4 processes, 10% of the parts delivered twice (as a broker
redelivers): every chord completes exactly once, with its parts in order.

Real processes, real HTTP: each process has its own client; they meet only in the server
(the stand-in here, a real server when ``RESULTSTORE_TEST_COSMOSDBSQL_URL`` is set).
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from collections import Counter
from typing import Any

import resultstore
from resultstore import states

CHORDS, SIZE, PROCESSES, DUPLICATED = 100, 10, 4, 0.10


def _worker(args: tuple[str, dict[str, Any], list[tuple[str, int]]]
            ) -> list[tuple[str, list[Any]]]:
    url, settings, jobs = args
    backend = resultstore.connect(url, settings)
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


def test_chords_exactly_once_from_4_processes_with_redelivered_parts(
        cosmos_url: str, cosmos_settings: dict[str, Any]) -> None:
    url = cosmos_url
    run = uuid.uuid4().hex[:8]
    groups = [f"mp-{run}-{c}" for c in range(CHORDS)]
    settings = {**cosmos_settings, "cosmosdbsql_collection_name": "mp"}
    setup = resultstore.connect(url, settings)
    for gid in groups:
        setup.set_chord_size(gid, SIZE)
    setup.close()
    rng = random.Random(run)
    jobs = [(gid, i) for gid in groups for i in range(SIZE)]
    jobs += rng.sample(jobs, int(len(jobs) * DUPLICATED))  # redelivered: a second copy each
    rng.shuffle(jobs)
    shares = [(url, settings, jobs[p::PROCESSES]) for p in range(PROCESSES)]
    start = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.map_async(_worker, shares).get(300)
    elapsed = time.monotonic() - start
    completions: Counter[str] = Counter()
    for completed in results:
        for gid, values in completed:
            completions[gid] += 1
            assert values == list(range(SIZE)), f"{gid}: parts out of order: {values}"
    print(f"\n{PROCESSES} processes: {len(jobs)} part deliveries ({len(jobs) - CHORDS * SIZE} "
          f"duplicates) into {CHORDS} chords in {elapsed:.1f}s")
    assert completions == Counter(groups)
