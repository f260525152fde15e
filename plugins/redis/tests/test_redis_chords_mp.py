"""1000 chords x 10 parts from 8 processes: every chord completes exactly once,
also when the server restarts mid-way (``result_backend_always_retry``); the restart run on
redis-server and on valkey-server."""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_servers import SERVER_KINDS, start_redis

import resultstore
from resultstore import states
from resultstore.testing.servers import ServerProcess

CHORDS, SIZE, PROCESSES = 1000, 10, 8
SETTINGS = {"result_backend_always_retry": True,
            "result_backend_max_sleep_between_retries_ms": 200}

_progress: Any = None


def _init(progress: Any) -> None:
    global _progress
    _progress = progress


def _worker(args: tuple[str, list[tuple[str, int]]]) -> list[tuple[str, list[Any]]]:
    url, jobs = args
    backend = resultstore.connect(url, **SETTINGS)
    completed = []
    for done, (gid, index) in enumerate(jobs, 1):
        parts = backend.chord_part_return(gid, f"{gid}-{index}", index, states.SUCCESS, index)
        if parts is not None:
            completed.append((gid, [p.result for p in parts]))
            backend.chord_done(gid)
        if done % 50 == 0:
            with _progress.get_lock():
                _progress.value += 50
    backend.close()
    return completed


@pytest.fixture
def durable(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    kind = getattr(request, "param", "redis")
    server = start_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "no", kind=kind)
    yield server
    server.stop()


def _run(server: ServerProcess, restart_at: float | None) -> tuple[Counter[str], list[str], float]:
    url = f"redis://127.0.0.1:{server.port}/0"
    run = uuid.uuid4().hex[:8]
    groups = [f"mp-{run}-{c}" for c in range(CHORDS)]
    setup = resultstore.connect(url)
    for gid in groups:
        setup.set_chord_size(gid, SIZE)
    setup.close()
    jobs = [(gid, i) for gid in groups for i in range(SIZE)]
    random.Random(run).shuffle(jobs)
    shares = [(url, jobs[p::PROCESSES]) for p in range(PROCESSES)]
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Value("i", 0)
    restarted = False
    start = time.monotonic()
    with ctx.Pool(PROCESSES, initializer=_init, initargs=(progress,)) as pool:
        pending = pool.map_async(_worker, shares)
        while not pending.ready():
            if restart_at is not None and not restarted and progress.value >= restart_at * len(jobs):
                server.stop()
                time.sleep(0.5)
                server.start()
                restarted = True
            time.sleep(0.005)
        results = pending.get(120)
    elapsed = time.monotonic() - start
    if restart_at is not None:
        assert restarted, "the run finished before the restart"
    completions: Counter[str] = Counter()
    for completed in results:
        for gid, values in completed:
            completions[gid] += 1
            assert values == list(range(SIZE)), f"{gid}: parts out of order: {values}"
    return completions, groups, elapsed


def test_chords_exactly_once_from_8_processes(durable: ServerProcess) -> None:
    completions, groups, _ = _run(durable, restart_at=None)
    assert completions == Counter(groups)


@pytest.mark.parametrize("durable", SERVER_KINDS, indirect=True)
def test_chords_exactly_once_across_a_restart(durable: ServerProcess) -> None:
    completions, groups, _ = _run(durable, restart_at=0.4)
    assert completions == Counter(groups)
