"""Native chords: idempotent part rows, a count by SELECT and one LWT claim per arming."""

from __future__ import annotations

import multiprocessing
import random
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from cassandra import ConsistencyLevel, WriteTimeout, WriteType
from cassandra_helpers import REAL_URL
from cassandra_standin.driver import StandinCluster, StandinServer
from cassandra_standin.remote import RemoteDatabase, attach, serve

import resultstore
from resultstore import states

MakeBackend = Callable[..., resultstore.ResultBackend]
CHORDS, PARTS, DUPLICATES, WORKERS = 200, 10, 0.05, 8


def _jobs(group_ids: list[str], seed: int = 7) -> list[tuple[str, int]]:
    """Every part once, 5% of them twice (broker redelivery), shuffled."""
    jobs = [(g, i) for g in group_ids for i in range(PARTS)]
    rng = random.Random(seed)
    jobs += rng.sample(jobs, int(len(jobs) * DUPLICATES))
    rng.shuffle(jobs)
    return jobs


def _deliver(backend: resultstore.ResultBackend, jobs: list[tuple[str, int]]) -> list[str]:
    """Deliver parts; return the group of every delivery that completed a chord (checked)."""
    completed = []
    for group_id, index in jobs:
        parts = backend.chord_part_return(group_id, f"{group_id}-{index}", index,
                                          states.SUCCESS, index)
        if parts is not None:
            assert [p.result for p in parts] == list(range(PARTS))
            backend.chord_done(group_id)
            completed.append(group_id)
    return completed


def _worker(url: str, jobs: list[tuple[str, int]]) -> list[str]:
    """One worker process: its own backend (and driver connections)."""
    backend = resultstore.connect(url)
    try:
        return _deliver(backend, jobs)
    finally:
        backend.close()


def _check_each_body_once(completed: list[str], group_ids: list[str]) -> None:
    counts = Counter(completed)
    assert sorted(counts) == sorted(group_ids)
    assert set(counts.values()) == {1}


def test_200_chords_from_8_threads_with_5pct_duplicates(open_backend: MakeBackend,
                                                        cassandra_url: str) -> None:
    """On the stand-in the 8 workers are threads of this process (the stand-in is in-process)."""
    backends = [open_backend(cassandra_url) for _ in range(WORKERS)]
    group_ids = [f"g-{uuid.uuid4()}" for _ in range(CHORDS)]
    for group_id in group_ids:
        backends[0].set_chord_size(group_id, PARTS)
    jobs = _jobs(group_ids)
    with ThreadPoolExecutor(WORKERS) as pool:
        results = pool.map(_deliver, backends, [jobs[i::WORKERS] for i in range(WORKERS)])
        _check_each_body_once([g for r in results for g in r], group_ids)


def test_200_chords_from_8_processes_with_5pct_duplicates(open_backend: MakeBackend,
                                                          cassandra_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """8 worker processes. On a real server they share it; here they share one stand-in
    database process (``cassandra_standin.remote``: statements serialised there)."""
    context = multiprocessing.get_context("spawn")
    initializer, initargs, manager = None, (), None
    if not REAL_URL:
        authkey = uuid.uuid4().bytes
        manager, address = serve(authkey)
        initializer, initargs = attach, (address, authkey)
        monkeypatch.setattr(StandinCluster, "server",
                            StandinServer(database=RemoteDatabase(address, authkey)))
    try:
        group_ids = [f"g-{uuid.uuid4()}" for _ in range(CHORDS)]
        setup = open_backend(cassandra_url)
        for group_id in group_ids:
            setup.set_chord_size(group_id, PARTS)
        jobs = _jobs(group_ids)
        with ProcessPoolExecutor(WORKERS, mp_context=context, initializer=initializer,
                                 initargs=initargs) as pool:
            results = pool.map(_worker, [cassandra_url] * WORKERS,
                               [jobs[i::WORKERS] for i in range(WORKERS)])
            _check_each_body_once([g for r in results for g in r], group_ids)
    finally:
        if manager is not None:
            StandinCluster.server.close()
            manager.shutdown()


def test_round_trips_per_part_and_one_claim(only_standin: StandinServer, open_backend: MakeBackend,
                                            cassandra_url: str) -> None:
    backend, group_id = open_backend(cassandra_url), f"g-{uuid.uuid4()}"
    backend.set_chord_size(group_id, 3)
    before = len(only_standin.queries())
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 0) is None
    assert len(only_standin.queries()) - before == 3  # part INSERT, then count + size concurrently
    backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 1)
    assert backend.chord_part_return(group_id, "c", 2, states.SUCCESS, 2) is not None
    claims = [r for r in only_standin.queries()[before:] if "IF NOT EXISTS" in r.cql]
    assert len(claims) == 1 and "'c'" in claims[0].cql
    assert not only_standin.queries("counter")  # no counter columns anywhere


def test_a_lost_claim_response_is_settled_by_a_serial_read(only_standin: StandinServer,
                                                           open_backend: MakeBackend,
                                                           cassandra_url: str) -> None:
    backend, group_id = open_backend(cassandra_url), f"g-{uuid.uuid4()}"
    backend.set_chord_size(group_id, 2)
    backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 0)
    only_standin.lose = lambda cql: (WriteTimeout("lost", write_type=WriteType.CAS)
                                     if "IF NOT EXISTS" in cql and "_chord" in cql else None)
    try:
        parts = backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 1)
    finally:
        only_standin.lose = lambda cql: None
    assert parts is not None and [p.result for p in parts] == [0, 1]
    serial = only_standin.queries("kind = 'c'")[-1]
    assert serial.consistency == ConsistencyLevel.LOCAL_SERIAL
    # a redelivered last part does not complete it again
    assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 1) is None


def test_grow_rearm_and_late_duplicates(open_backend: MakeBackend, cassandra_url: str) -> None:
    backend, group_id = open_backend(cassandra_url), f"g-{uuid.uuid4()}"
    backend.set_chord_size(group_id, 1)
    backend.add_to_chord(group_id)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, "a") is None
    parts = backend.chord_part_return(group_id, "b", None, states.SUCCESS, "b")
    assert parts is not None and [p.result for p in parts] == ["a", "b"]
    backend.chord_done(group_id)
    assert backend.chord_part_return(group_id, "b", None, states.SUCCESS, "b") is None
    # re-applying the chord with the same group id re-arms it (Celery's DEL G.c)
    again = f"g-{uuid.uuid4()}"
    backend.set_chord_size(again, 1)
    assert backend.chord_part_return(again, "x", 0, states.SUCCESS, 1) is not None
    backend.chord_done(again)
    backend.set_chord_size(again, 1)
    assert backend.chord_part_return(again, "x", 0, states.SUCCESS, 1) is not None


def test_growth_before_the_size_is_kept(open_backend: MakeBackend, cassandra_url: str) -> None:
    """Celery sets the size just before sending the last header task: a first header task
    may already have called add_to_chord (found by the real-worker scenario)."""
    backend, group_id = open_backend(cassandra_url), f"g-{uuid.uuid4()}"
    backend.add_to_chord(group_id)
    backend.set_chord_size(group_id, 2)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
    assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is None
    parts = backend.chord_part_return(group_id, "c", None, states.SUCCESS, 3)
    assert parts is not None and [p.result for p in parts] == [1, 2, 3]


def test_weak_consistency_settings_do_not_weaken_chord_counting(
        only_standin: StandinServer, open_backend: MakeBackend, cassandra_url: str) -> None:
    backend = open_backend(cassandra_url, cassandra_read_consistency="ONE",
                           cassandra_write_consistency="ONE")
    group_id = f"g-{uuid.uuid4()}"
    backend.set_chord_size(group_id, 1)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 0) is not None
    chord = [r for r in only_standin.queries("_chord") if "CREATE" not in r.cql]
    assert {r.consistency for r in chord[-5:]} == {ConsistencyLevel.LOCAL_QUORUM}
