"""The conformance kit for object stores built on :class:`resultstore.blob.BlobStore`.

A plugin's test module provides one fixture, ``blob_target``, describing a fresh
location (bucket + base path) on the real emulator, and inherits everything::

    class TestS3(BlobStoreSuite):
        conditional = True            # does this storage honour conditional writes?

        @pytest.fixture
        def blob_target(self, s3_location):
            return BlobTarget(url="s3://", settings={...}, host_class=S3Backend,
                              celery_backend=lambda app: celery.backends.s3.S3Backend(app=app),
                              secrets=("the-secret-key",))

On top of :class:`~resultstore.testing.ConformanceSuite` it checks the probe,
cross-reads with Celery's own backend class in both directions, expiry of objects
written by us and by Celery, chord redelivery, growth and lost responses, racing
writers, secrets, 8 processes completing 200 chords exactly once, and it prints
throughput next to Celery's backend on the same emulator.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import pytest

import resultstore

from .. import states
from ..backend import ResultBackend
from ..blob import BlobStore, PreconditionFailed
from ..spec import Capability
from .suite import ConformanceSuite, KitError

__all__ = ["BlobTarget", "BlobStoreSuite", "chord_stress", "compare_with_celery"]


@dataclass(frozen=True)
class BlobTarget:
    """A fresh location on a real object store, and how Celery reaches it."""

    #: URL for :func:`resultstore.connect` and for Celery's ``result_backend``.
    url: str
    #: Settings (Celery names) completing the URL: bucket, endpoint, credentials, base path.
    settings: Mapping[str, Any]
    #: Our Celery host class for this storage (what Celery loads through the entry point).
    host_class: type
    #: Builds Celery's own backend object for a configured Celery app.
    celery_backend: Callable[[Any], Any]
    #: Strings that must never be shown (keys, connection strings).
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def connect(self, **settings: Any) -> ResultBackend:
        return resultstore.connect(self.url, {**self.settings, **settings})

    def celery_app(self, **settings: Any) -> Any:
        from celery import Celery

        app = Celery("resultstore-kit", set_as_current=False)
        app.conf.update({**self.settings, **settings})
        return app


def _uid(label: str = "t") -> str:
    return f"{label}-{uuid.uuid4()}"


class BlobStoreSuite(ConformanceSuite):
    """Inherit and provide ``blob_target``; set ``conditional`` / ``reads_report_expiry``."""

    #: Whether the storage honours conditional writes (False: the GCS emulator).
    conditional: ClassVar[bool] = True
    #: Whether reads report the recorded expiry (expired objects read as absent before cleanup).
    reads_report_expiry: ClassVar[bool] = True
    #: Chords x parts for the 8-process test.
    stress_chords: ClassVar[int] = 200
    stress_parts: ClassVar[int] = 10

    @pytest.fixture
    def make_backend(self, blob_target: BlobTarget) -> Iterator[Callable[..., ResultBackend]]:
        opened: list[ResultBackend] = []

        def make(**settings: Any) -> ResultBackend:
            backend = blob_target.connect(**settings)
            opened.append(backend)
            return backend

        yield make
        for backend in opened:
            backend.close()

    @staticmethod
    def _store(backend: ResultBackend) -> BlobStore:
        assert isinstance(backend.store, BlobStore)
        return backend.store

    # -- the probe ----------------------------------------------------------------
    def test_probe_decides_native_chords(self, backend: ResultBackend) -> None:
        declared = Capability.CHORD in backend.capabilities
        assert declared is self.conditional
        assert (Capability.GUARDED_SET in backend.capabilities) is self.conditional
        assert backend.supports_native_chords is self.conditional

    def test_conditional_writes_setting_skips_the_probe(self, make_backend: Callable[..., ResultBackend]
                                                        ) -> None:
        prefix = self._store(make_backend()).settings_prefix
        off = make_backend(**{f"{prefix}_conditional_writes": False})
        assert not off.supports_native_chords and Capability.SCAN in off.capabilities

    # -- Celery's own backend on the same location ----------------------------------------
    def test_celery_writes_we_read(self, blob_target: BlobTarget, backend: ResultBackend) -> None:
        from celery.result import AsyncResult, GroupResult

        app = blob_target.celery_app()
        theirs = blob_target.celery_backend(app)
        done, failed, started, group_id = _uid(), _uid(), _uid(), _uid("g")
        theirs.mark_as_done(done, {"answer": [42, "zażółć"]})
        theirs.mark_as_failure(failed, KitError("boom", 7), traceback="Traceback ...")
        theirs.store_result(started, {"pid": 7}, states.STARTED)
        theirs.save_group(group_id, GroupResult(group_id, [AsyncResult(done, app=app),
                                                           AsyncResult(failed, app=app)], app=app))
        metas = backend.get_many([done, failed, started])
        assert metas[done]["result"] == {"answer": [42, "zażółć"]}
        assert metas[done]["status"] == states.SUCCESS and metas[done]["task_id"] == done
        assert type(metas[failed]["result"]) is KitError and metas[failed]["result"].args == ("boom", 7)
        assert metas[failed]["traceback"] == "Traceback ..."
        assert (metas[started]["status"], metas[started]["result"]) == (states.STARTED, {"pid": 7})
        assert backend.get_group_meta(group_id) == {
            "result": [[group_id, None], [[[done, None], None], [[failed, None], None]]]}
        assert set(backend.task_ids()) >= {done, failed, started}

    def test_we_write_celery_reads(self, blob_target: BlobTarget, backend: ResultBackend) -> None:
        theirs = blob_target.celery_backend(blob_target.celery_app())
        done, failed, group_id = _uid(), _uid(), _uid("g")
        backend.mark_as_done(done, {"answer": [42, "日本"]})
        backend.mark_as_failure(failed, KitError("bad", 1), traceback="tb")
        backend.save_group(group_id, [[group_id, None], [[[done, None], None]]])
        meta = theirs.get_task_meta(done)
        assert (meta["status"], meta["result"], meta["task_id"]) == (
            states.SUCCESS, {"answer": [42, "日本"]}, done)
        meta = theirs.get_task_meta(failed)
        assert meta["status"] == states.FAILURE and type(meta["result"]) is KitError
        restored = theirs.restore_group(group_id)
        assert restored.id == group_id and [r.id for r in restored.results] == [done]
        theirs.forget(done)
        assert backend.get_task_meta(done)["status"] == states.PENDING

    def test_our_celery_host_reads_celerys_writes(self, blob_target: BlobTarget) -> None:
        app = blob_target.celery_app()
        ours = blob_target.host_class(app=app, url=blob_target.url)
        theirs = blob_target.celery_backend(app)
        task_id = _uid()
        theirs.mark_as_done(task_id, [1, 2, 3])
        assert ours.get_task_meta(task_id)["result"] == [1, 2, 3]
        ours.mark_as_done(task_id, "late duplicate")
        assert theirs.get_task_meta(task_id)["result"] == [1, 2, 3]
        for secret in blob_target.secrets:
            assert secret not in ours.as_uri() and secret not in repr(ours)

    # -- expiry and cleanup -------------------------------------------------------------
    def test_cleanup_removes_expired_ours_and_celerys_but_nothing_else(
            self, blob_target: BlobTarget, make_backend: Callable[..., ResultBackend]) -> None:
        backend = make_backend(result_expires=1)
        keeper = make_backend(result_expires=3600)
        store = self._store(backend)
        theirs = blob_target.celery_backend(blob_target.celery_app())
        ours_id, celerys_id, kept_id = _uid(), _uid(), _uid()
        backend.mark_as_done(ours_id, 1)
        theirs.mark_as_done(celerys_id, 2)
        keeper.mark_as_done(kept_id, 3)
        foreign = store.name("notes/readme.txt")
        store.write_blob(foreign, b"not a result")
        time.sleep(2.2)
        if self.reads_report_expiry:
            assert backend.get_task_meta(ours_id)["status"] == states.PENDING  # before any cleanup
        assert backend.cleanup() >= 2
        names = {info.name for info in store.list_blobs(store.prefix)}
        assert store.name(backend.keys.task(ours_id)) not in names
        assert store.name(backend.keys.task(celerys_id)) not in names
        assert {foreign, store.name(backend.keys.task(kept_id))} <= names
        assert keeper.get_task_meta(kept_id)["result"] == 3

    # -- chords: the hard cases -------------------------------------------------------------
    def _conditional_only(self) -> None:
        if not self.conditional:
            pytest.skip("storage does not honour conditional writes: no native chords (hosts poll)")

    def test_chord_redelivery_after_crash_completes(self, backend: ResultBackend) -> None:
        self._conditional_only()
        store, group_id = self._store(backend), _uid("g")
        backend.set_chord_size(group_id, 2)
        assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, "A") is None
        # the worker of part b wrote its part and died before counting
        part = backend.chords.encode_part("b", states.SUCCESS, "B", group_id=group_id)  # type: ignore[union-attr]
        store.write_blob(store.name(backend.keys.group(group_id, ".p.1.b")), part)
        parts = backend.chord_part_return(group_id, "b", 1, states.SUCCESS, "B")
        assert parts is not None and [p.result for p in parts] == ["A", "B"]
        backend.chord_done(group_id)
        assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, "B") is None

    def test_chord_grows_with_add_to_chord(self, backend: ResultBackend) -> None:
        self._conditional_only()
        group_id = _uid("g")
        backend.set_chord_size(group_id, 2)
        backend.add_to_chord(group_id, 1)
        assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 0) is None
        assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 1) is None
        backend.add_to_chord(group_id, 1)
        assert backend.chord_part_return(group_id, "c", 2, states.SUCCESS, 2) is None
        parts = backend.chord_part_return(group_id, "d", None, states.SUCCESS, 3)
        assert parts is not None and [p.result for p in parts] == [0, 1, 2, 3]

    def test_lost_responses_are_not_counted_twice(self, backend: ResultBackend) -> None:
        """The SDK retried a conditional write whose first attempt had succeeded."""
        self._conditional_only()
        store, group_id = self._store(backend), _uid("g")
        original = store.write_blob

        def succeed_then_refuse(name: str, data: bytes, **kwargs: Any) -> str | None:
            original(name, data, **kwargs)
            if kwargs.get("if_absent") or kwargs.get("if_version"):
                raise PreconditionFailed(f"{name}: retried after a lost response")
            return None

        backend.set_chord_size(group_id, 2)
        store.write_blob = succeed_then_refuse  # type: ignore[method-assign]
        try:
            backend.add_to_chord(group_id, 1)
            backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 0)
            backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 1)
            parts = backend.chord_part_return(group_id, "c", 2, states.SUCCESS, 2)
            task_id = _uid()
            backend.mark_as_done(task_id, "kept")
        finally:
            del store.write_blob
        assert parts is not None and [p.result for p in parts] == [0, 1, 2]
        assert backend.get_task_meta(task_id)["result"] == "kept"

    def test_racing_writers_never_overwrite_success(self, make_backend: Callable[..., ResultBackend]
                                                    ) -> None:
        self._conditional_only()
        backends = [make_backend() for _ in range(4)]
        ids = [_uid() for _ in range(10)]
        start = threading.Barrier(8)

        def write(worker: int) -> None:
            backend = backends[worker % len(backends)]
            start.wait()
            for round_ in range(3):
                for i, task_id in enumerate(ids):
                    if i % 8 == worker and round_ == 1:
                        backend.mark_as_done(task_id, worker)
                    else:
                        backend.mark_as_failure(task_id, KitError(f"late {worker}"))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        metas = backends[0].get_many(ids)
        assert [(metas[t]["status"], metas[t]["result"]) for t in ids] == [
            (states.SUCCESS, i % 8) for i in range(len(ids))]

    # -- secrets --------------------------------------------------------------------------
    def test_secrets_never_shown(self, blob_target: BlobTarget, backend: ResultBackend) -> None:
        if not blob_target.secrets:
            pytest.skip("nothing secret in this store's settings (credentials come from the SDK)")
        store = self._store(backend)
        shown = [backend.as_uri(), repr(backend), repr(store), str(store.__dict__.get("config"))]
        for secret in blob_target.secrets:
            assert all(secret not in text for text in shown), secret

    # -- many processes --------------------------------------------------------------------
    def test_eight_processes_complete_every_chord_once(self, blob_target: BlobTarget,
                                                       backend: ResultBackend) -> None:
        report = chord_stress(blob_target.url, dict(blob_target.settings),
                              chords=self.stress_chords, parts=self.stress_parts,
                              native=backend.supports_native_chords)
        print(f"\n{type(backend.store).__name__}: {report}")
        assert report["completed_once"] == self.stress_chords

    # -- throughput next to Celery ------------------------------------------------------------
    def test_throughput_next_to_celery(self, blob_target: BlobTarget) -> None:
        figures = compare_with_celery(blob_target, n=200)
        print(f"\n{blob_target.host_class.__name__} vs Celery ({figures.pop('n')} results): {figures}")
        assert figures["ours"]["results_equal"] and figures["celery"]["results_equal"]


# -- many processes -------------------------------------------------------------------------
def _stress_worker(url: str, settings: dict[str, Any], proc: int, processes: int, chords: list[str],
                   parts: int, native: bool, barrier: Any, out: Any) -> None:
    try:
        backend = resultstore.connect(url, settings)
        jobs = [(g, i) for g, _ in enumerate(chords) for i in range(parts)
                if (g + i) % processes == proc or (i == 0 and g % 2 == 0 and (g + 1) % processes == proc)]
        rng = random.Random(proc)
        window = 2 * parts  # keep processes on the same chords at the same time
        jobs = [job for start in range(0, len(jobs), window)
                for job in rng.sample(jobs[start:start + window], len(jobs[start:start + window]))]
        completed: list[tuple[str, list[Any]]] = []
        barrier.wait()
        for g, i in jobs:
            group_id, task_id = chords[g], f"{chords[g]}-{i}"
            if native:
                done = backend.chord_part_return(group_id, task_id, i, states.SUCCESS, g * 100 + i)
                if done is not None:
                    completed.append((group_id, [p.result for p in done]))
                    backend.chord_done(group_id)
            else:
                backend.mark_as_done(task_id, g * 100 + i)
        out.put((proc, completed, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put((proc, [], f"{type(exc).__name__}: {exc}"))


def chord_stress(url: str, settings: dict[str, Any], *, processes: int = 8, chords: int = 200,
                 parts: int = 10, native: bool = True, timeout: float = 120) -> dict[str, Any]:
    """``processes`` processes complete ``chords`` chords of ``parts`` parts (5% redelivered).

    Native chords: every process records parts with ``chord_part_return``; the
    result counts the chords completed exactly once with every part in order.
    Without native chords (the documented fallback) the processes store the header
    results and one poller joins each chord with batched reads, as Celery's
    ``chord_unlock`` does, firing each body once.
    """
    run = uuid.uuid4().hex[:8]
    group_ids = [f"stress-{run}-{g}" for g in range(chords)]
    setup = resultstore.connect(url, settings)
    if native:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda g: setup.set_chord_size(g, parts), group_ids))
    # fork is safe here: BlobStore rebuilds SDK clients and thread pools in a new process
    ctx: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    started = time.perf_counter()
    procs = [ctx.Process(target=_stress_worker, args=(url, settings, p, processes, group_ids, parts,
                                                      native, barrier, out)) for p in range(processes)]
    for proc in procs:
        proc.start()
    fired: dict[str, int] = dict.fromkeys(group_ids, 0)
    bodies: dict[str, list[Any]] = {}
    try:
        if not native:
            _poll_chords(setup, group_ids, parts, fired, bodies, timeout)
        outcomes = [out.get(timeout=timeout) for _ in procs]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    elapsed = time.perf_counter() - started
    errors = [error for _, _, error in outcomes if error]
    assert not errors, errors
    for _, completed, _ in outcomes:
        for group_id, results in completed:
            fired[group_id] += 1
            bodies[group_id] = results
    expected = {g: [n * 100 + i for i in range(parts)] for n, g in enumerate(group_ids)}
    once = sum(1 for g in group_ids if fired[g] == 1 and bodies.get(g) == expected[g])
    return {"mode": "native" if native else "poll (fallback)", "processes": processes,
            "chords": chords, "parts": parts, "completed_once": once,
            "fired_twice_or_more": sum(1 for g in group_ids if fired[g] > 1),
            "seconds": round(elapsed, 2), "parts_per_s": round(chords * parts / elapsed, 1)}


def _poll_chords(backend: ResultBackend, group_ids: list[str], parts: int, fired: dict[str, int],
                 bodies: dict[str, list[Any]], timeout: float) -> None:
    """One poller for every pending chord, as ``chord_unlock``: a chord's header is read in
    order up to its first part not ready yet (one batched read per round for all chords)."""
    results: dict[str, list[Any]] = {g: [] for g in group_ids}
    pending = list(group_ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        metas = backend.get_many([f"{g}-{len(results[g])}" for g in pending])
        still, advanced = [], False
        for g in pending:
            meta = metas[f"{g}-{len(results[g])}"]
            if meta["status"] == states.SUCCESS:
                results[g].append(meta["result"])
                advanced = True
            if len(results[g]) == parts:
                fired[g] += 1
                bodies[g] = results[g]
            else:
                still.append(g)
        if not advanced:
            time.sleep(0.2)  # nothing new: wait, as chord_unlock's retry interval
        pending = still


# -- throughput ----------------------------------------------------------------------------
def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def _join(backend: Any, ids: list[str]) -> dict[str, Any]:
    """What ``GroupResult.join_native`` reads: ``get_many`` (one get per result without ``mget``)."""
    try:
        return dict(backend.get_many(ids, timeout=30, interval=0.05))
    except NotImplementedError:  # Celery's S3Backend has no mget: join_native cannot work
        return {task_id: backend.get_task_meta(task_id) for task_id in ids}


def _store_all(backend: Any, ids: list[str]) -> None:
    for task_id in ids:
        backend.mark_as_done(task_id, {"i": task_id})


def _get_all(backend: Any, ids: list[str]) -> list[dict[str, Any]]:
    return [backend.get_task_meta(task_id) for task_id in ids]


def compare_with_celery(target: BlobTarget, n: int = 200, rounds: int = 4) -> dict[str, Any]:
    """Store, get and join ``n`` results with our Celery host class and with Celery's backend.

    Both run in this process against the same emulator, interleaved in ``rounds`` so that
    both see the same load (the join is the mean of two); each reads back what it wrote
    (``results_equal``).
    """
    app = target.celery_app(result_backend_thread_safe=True)
    backends = {"ours": target.host_class(app=app, url=target.url), "celery": target.celery_backend(app)}
    ids = {label: [_uid(label) for _ in range(n)] for label in backends}
    spent = {label: {"store": 0.0, "get": 0.0, "join": 0.0} for label in backends}
    equal = dict.fromkeys(backends, True)
    step = -(-n // rounds)
    for start in range(0, n, step):
        for label, backend in backends.items():
            chunk = ids[label][start:start + step]
            seconds, _ = _timed(partial(_store_all, backend, chunk))
            spent[label]["store"] += seconds
            seconds, metas = _timed(partial(_get_all, backend, chunk))
            spent[label]["get"] += seconds
            equal[label] &= [m["result"] for m in metas] == [{"i": t} for t in chunk]
    for _ in range(2):
        for label, backend in backends.items():
            seconds, joined = _timed(partial(_join, backend, ids[label]))
            spent[label]["join"] += seconds / 2
            equal[label] &= [joined[t]["result"] for t in ids[label]] == [{"i": t} for t in ids[label]]
    figures: dict[str, Any] = {"n": n}
    for label in backends:
        figures[label] = {"store_per_s": round(n / spent[label]["store"], 1),
                          "get_per_s": round(n / spent[label]["get"], 1),
                          "join_ms": round(spent[label]["join"] * 1000, 1),
                          "results_equal": equal[label]}
    ours, theirs = figures["ours"], figures["celery"]
    figures["ratio"] = {"store": round(ours["store_per_s"] / theirs["store_per_s"], 2),
                        "get": round(ours["get_per_s"] / theirs["get_per_s"], 2),
                        "join": round(theirs["join_ms"] / ours["join_ms"], 2)}
    return figures
