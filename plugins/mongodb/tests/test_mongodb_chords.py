"""200 chords x 10 parts, 5% of the parts delivered twice, from 8 workers: every body once.

With ``RESULTSTORE_TEST_MONGODB_URL`` the workers are 8 processes on the real server.  On
the stand-in they cannot be: mongomock's data lives in one process's memory, and a process
cannot open another's.  There the same run uses 8 threads sharing one mongomock server
(with :mod:`mongodb_standin`'s per-document atomicity), which checks our counting and claiming
logic under MongoDB's guarantees, not MongoDB's own concurrency control.
"""

from __future__ import annotations

import multiprocessing
import random
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from mongodb_standin import MongoTarget

import resultstore
from resultstore import states

CHORDS, SIZE, WORKERS, DUPLICATED = 200, 10, 8, 0.05
SETTINGS = {"result_backend_always_retry": True}


def _jobs(groups: list[str], seed: str) -> list[tuple[str, int]]:
    jobs = [(gid, i) for gid in groups for i in range(SIZE)]
    rng = random.Random(seed)
    jobs += rng.sample(jobs, int(len(jobs) * DUPLICATED))  # redelivered by the broker
    rng.shuffle(jobs)
    return jobs


def _work(backend: resultstore.ResultBackend, jobs: list[tuple[str, int]]) -> list[tuple[str, list[Any]]]:
    completed = []
    for gid, index in jobs:
        parts = backend.chord_part_return(gid, f"{gid}-{index}", index, states.SUCCESS, index)
        if parts is not None:
            completed.append((gid, [p.result for p in parts]))
            backend.chord_done(gid)
    return completed


def _process(args: tuple[str, list[tuple[str, int]]]) -> list[tuple[str, list[Any]]]:
    url, jobs = args
    backend = resultstore.connect(url, **SETTINGS)
    try:
        return _work(backend, jobs)
    finally:
        backend.close()


def _check(groups: list[str], results: list[list[tuple[str, list[Any]]]]) -> None:
    completions: Counter[str] = Counter()
    for completed in results:
        for gid, values in completed:
            completions[gid] += 1
            assert values == list(range(SIZE)), f"{gid}: parts {values}"
    assert completions == Counter(groups)  # every chord once, none twice


def _setup(url: str) -> tuple[list[str], list[tuple[str, int]]]:
    run = uuid.uuid4().hex[:8]
    groups = [f"mp-{run}-{c}" for c in range(CHORDS)]
    setup = resultstore.connect(url)
    for gid in groups:
        setup.set_chord_size(gid, SIZE)
    setup.close()
    return groups, _jobs(groups, run)


def test_chords_once_from_8_processes(mongo: MongoTarget) -> None:
    ctx = multiprocessing.get_context("spawn")
    if mongo.real:
        groups, jobs = _setup(mongo.url)
        with ctx.Pool(WORKERS) as pool:
            results = pool.map(_process, [(mongo.url, jobs[w::WORKERS]) for w in range(WORKERS)])
        _check(groups, results)
        return
    import os

    from mongodb_remote import attach, attached, serve

    authkey = os.urandom(16)
    manager, address = serve(authkey)
    url = f"mongodb://shared-standin:27017/{mongo.database}"
    try:
        with attached(address, authkey):
            groups, jobs = _setup(url)
        with ctx.Pool(WORKERS, initializer=attach, initargs=(address, authkey)) as pool:
            results = pool.map(_process, [(url, jobs[w::WORKERS]) for w in range(WORKERS)])
        _check(groups, results)
    finally:
        manager.shutdown()


@pytest.mark.parametrize("copies", [2])
def test_every_part_twice_concurrently(mongo: MongoTarget, copies: int,
                                       open_mongodb: Callable[..., resultstore.ResultBackend]) -> None:
    from resultstore.testing.races import chords_complete_once

    chords_complete_once([open_mongodb(mongo.url) for _ in range(4)], groups=20, size=10,
                         copies=copies, threads=8)
