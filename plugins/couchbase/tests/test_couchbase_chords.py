"""100 chords x 10 parts, 10% of the parts delivered twice, from 4 processes: every body once.

With ``RESULTSTORE_TEST_COUCHBASE_URL`` the 4 processes run on the real server.  On the
stand-in the documents live in a manager process (:mod:`couchbase_fake.remote`) that each
worker process reaches through the fake ``Cluster``: the 4 processes race through the SDK
API (insert / replace with CAS) on shared documents; operations are applied one at a time
by the document server's lock, as a data node applies the mutations of one document.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from couchbase_fake.server import DocumentServer

import resultstore
from resultstore import states

CHORDS, SIZE, WORKERS, DUPLICATED = 100, 10, 4, 0.10
REAL_URL = os.environ.get("RESULTSTORE_TEST_COUCHBASE_URL")
SETTINGS = {"result_backend_always_retry": True}


def _jobs(groups: list[str], seed: str) -> list[tuple[str, int]]:
    jobs = [(gid, i) for gid in groups for i in range(SIZE)]
    rng = random.Random(seed)
    jobs += rng.sample(jobs, int(len(jobs) * DUPLICATED))  # redelivered by the broker
    rng.shuffle(jobs)
    return jobs


def _process(args: tuple[str, Any, list[tuple[str, int]]]) -> list[tuple[str, list[Any]]]:
    url, shared, jobs = args
    if shared is not None:
        from couchbase_fake.remote import attach

        attach((shared[0], shared[1]), bytes.fromhex(shared[2]))
    backend = resultstore.connect(url, **SETTINGS)
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


@pytest.fixture
def shared(fake: DocumentServer | None) -> Iterator[list[Any] | None]:
    """``[host, port, authkey hex]`` of a shared document process (``None`` on a real server)."""
    if REAL_URL:
        yield None
        return
    from couchbase_fake.remote import serve

    authkey = os.urandom(16)
    manager, address = serve(authkey)
    try:
        yield [address[0], address[1], authkey.hex()]
    finally:
        manager.shutdown()


def test_chords_once_from_4_processes(shared: list[Any] | None, couchbase_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run = uuid.uuid4().hex[:8]
    groups = [f"mp-{run}-{c}" for c in range(CHORDS)]
    jobs = _jobs(groups, run)
    if shared is not None:  # this process's sets go to the shared documents too
        from couchbase_fake.remote import RemoteServer
        from couchbase_fake.sdk import FakeCluster

        monkeypatch.setattr(FakeCluster, "server", RemoteServer((shared[0], shared[1]),
                                                                bytes.fromhex(shared[2])))
    setup = resultstore.connect(couchbase_url)
    for gid in groups:
        setup.set_chord_size(gid, SIZE)
    setup.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.map(_process, [(couchbase_url, shared, jobs[w::WORKERS]) for w in range(WORKERS)])
    completions: Counter[str] = Counter()
    for completed in results:
        for gid, values in completed:
            completions[gid] += 1
            assert values == list(range(SIZE)), f"{gid}: parts {values}"
    assert completions == Counter(groups)  # every chord once, none twice
    assert sum(len(jobs[w::WORKERS]) for w in range(WORKERS)) == CHORDS * SIZE * (1 + DUPLICATED)


def test_every_part_twice_concurrently(couchbase_url: str,
                                       open_backend: Callable[..., resultstore.ResultBackend]) -> None:
    """4 backends x 8 threads in this process, every part delivered twice."""
    from resultstore.testing.races import chords_complete_once

    chords_complete_once([open_backend(couchbase_url) for _ in range(4)], groups=20, size=10,
                         copies=2, threads=8)


def test_round_trips_per_part(only_fake: DocumentServer,
                              open_backend: Callable[..., resultstore.ResultBackend],
                              couchbase_url: str) -> None:
    """Without contention a part is 3 key/value operations (upsert part, get + replace chord
    document); the completing part adds a get of the chord document and one get per part
    (one ``get_multi``), and clearing one remove per part (one ``remove_multi``)."""
    backend = open_backend(couchbase_url)
    gid = f"rt-{uuid.uuid4().hex[:8]}"
    backend.set_chord_size(gid, 3)
    costs = []
    for index in range(3):
        before = only_fake.ops
        parts = backend.chord_part_return(gid, f"{gid}-{index}", index, states.SUCCESS, index)
        costs.append(only_fake.ops - before)
    assert parts is not None and [p.result for p in parts] == [0, 1, 2]
    assert costs[:2] == [3, 3]
    assert costs[2] == 3 + 1 + 3
    before = only_fake.ops
    backend.chord_done(gid)
    assert only_fake.ops - before == 1 + 3


def test_a_replace_applied_but_answered_with_a_timeout_counts_once(
        only_fake: DocumentServer, open_backend: Callable[..., resultstore.ResultBackend],
        couchbase_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server applies the replace, the answer is lost, the SDK retries and meets a CAS
    mismatch: ``add_to_chord`` grows the chord once, and the completing part still completes."""
    from couchbase import exceptions as cb
    from couchbase_fake.sdk import FakeCollection

    backend = open_backend(couchbase_url)
    gid = f"lost-{uuid.uuid4().hex[:8]}"
    backend.set_chord_size(gid, 1)
    original = FakeCollection.replace
    lost: list[str] = []

    def replace_then_lose_the_answer(self: FakeCollection, key: str, value: Any, *opts: Any,
                                     **kwargs: Any) -> Any:
        answer = original(self, key, value, *opts, **kwargs)
        if not lost:
            lost.append(key)
            raise cb.CasMismatchException(message="the SDK's retry of an applied replace")
        return answer

    monkeypatch.setattr(FakeCollection, "replace", replace_then_lose_the_answer)
    backend.add_to_chord(gid)  # expected parts: 1 + 1, once
    lost.clear()
    assert backend.chord_part_return(gid, f"{gid}-0", 0, states.SUCCESS, 0) is None
    lost.clear()
    parts = backend.chord_part_return(gid, f"{gid}-1", 1, states.SUCCESS, 1)
    assert parts is not None and [p.result for p in parts] == [0, 1]
