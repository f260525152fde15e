"""The outage kit: every networked store, behind a :class:`FaultProxy`, loses its server.

A plugin opts in with one fixture, ``proxied``, returning a :class:`Proxied`: the
real server's address and how to open a backend through a proxy port, with the
settings that bound one call (the store's timeouts)::

    from resultstore.testing import OutageSuite, Proxied, opened_backends

    class TestMyStoreOutage(OutageSuite):
        call_timeout = 3.0   # what the settings below bound one call to

        @pytest.fixture
        def proxied(self, my_server):
            with opened_backends(my_socket_timeout=1) as open_backend:
                yield Proxied(("127.0.0.1", my_server.port),
                              lambda port, **s: open_backend(f"my://127.0.0.1:{port}/", **s))

What every store must show:

* with ``result_backend_always_retry`` an outage (connections reset, new ones refused)
  in the middle of a run of stores and waits loses nothing and wakes every waiter;
* without it, the outage surfaces as ``BackendStoreError``/``BackendGetMetaError`` saying
  how to retry, and the backend works again once the server is back;
* a stalled server (connections accepted, nothing answered) never holds a caller past
  ``call_timeout`` (the call fails with a typed error, or returns when the store does not
  wait for answers), and a wait not past its own timeout plus ``call_timeout``.

The default run is short (``RESULTSTORE_OUTAGE_OPS``, default 200 stores, and a
``RESULTSTORE_OUTAGE_SECONDS`` outage, default 1); ``nox -s outage`` runs 1,000 and 3 s
and prints the table of ``RESULTSTORE_OUTAGE_REPORT`` (one JSON line per test, see
:func:`print_report`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ..backend import ResultBackend
from ..errors import BackendError, BackendGetMetaError, BackendStoreError, TimeoutError
from ..hooks import hookimpl, plugin_manager
from ..waiting import waiter
from .proxy import FaultProxy

__all__ = ["OutageSuite", "Proxied"]

#: Settings of every backend that retries through the outage.
ALWAYS_RETRY = {"result_backend_always_retry": True,
                "result_backend_max_sleep_between_retries_ms": 200}


@dataclass
class Proxied:
    """The real server's address and ``open(proxy_port, **settings) -> ResultBackend``."""

    upstream: tuple[str, int]
    open: Callable[..., ResultBackend]


class _Retries:
    """Counts ``resultstore_retried`` hook calls while registered."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def resultstore_retried(self, operation: str, attempt: int, delay: float,
                            exc: BaseException) -> None:
        self.count += 1


def _timed(call: Callable[[], Any]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


class OutageSuite:
    """Inherit and provide ``proxied``; the tests below then break your store's server."""

    #: Seconds one call may take against a stalled server (the store's timeouts bound it).
    call_timeout: float = 5.0
    #: Stores in the outage run, and the outage's length in seconds.
    outage_ops: int = int(os.environ.get("RESULTSTORE_OUTAGE_OPS", "200"))
    outage_seconds: float = float(os.environ.get("RESULTSTORE_OUTAGE_SECONDS", "1"))
    #: Why a stalled server can hold a call past any timeout (the client has none to set):
    #: the stall test is then skipped, saying so.
    stall_unbounded: str = ""
    #: Why results written while the server is away cannot all survive it (the store's design):
    #: the no-loss test is then skipped, saying so.
    loses_while_down: str = ""
    #: Threads storing, and threads waiting (each on its share of the ids).
    writers: int = 4
    waiters: int = 4

    @pytest.fixture
    def proxy(self, proxied: Proxied) -> Iterator[FaultProxy]:
        with FaultProxy(proxied.upstream) as proxy:
            yield proxy

    @pytest.fixture
    def retries(self) -> Iterator[_Retries]:
        counter = _Retries()
        manager = plugin_manager()
        manager.register(counter)
        yield counter
        manager.unregister(counter)

    def test_outage_loses_nothing_with_always_retry(self, proxied: Proxied, proxy: FaultProxy,
                                                    retries: _Retries) -> None:
        if self.loses_while_down:
            pytest.skip(f"results written during an outage can be lost: {self.loses_while_down}")
        writer = proxied.open(proxy.port, **ALWAYS_RETRY)
        reader = proxied.open(proxy.port, **ALWAYS_RETRY)
        run = uuid.uuid4().hex[:8]
        ids = [f"out-{run}-{i}" for i in range(self.outage_ops)]
        woken: set[str] = set()
        wait_errors: list[BaseException] = []
        call_times: list[float] = []
        lock = threading.Lock()
        stored = 0
        outage_started = threading.Event()

        def restore_later() -> None:
            time.sleep(self.outage_seconds)
            proxy.restore()

        outage_thread = threading.Thread(target=restore_later)

        def wait(share: list[str]) -> None:
            try:
                for task_id, _ in waiter(reader).iter_ready(share, timeout=120, interval=0.1):
                    with lock:
                        woken.add(task_id)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                wait_errors.append(exc)

        def write(share: list[str]) -> None:
            nonlocal stored
            for task_id in share:
                start = time.monotonic()
                writer.mark_as_done(task_id, task_id)
                with lock:
                    call_times.append(time.monotonic() - start)
                    stored += 1
                    begin = stored >= len(ids) // 2 and not outage_started.is_set()
                    if begin:
                        outage_started.set()
                if begin:  # dropped before this writer's next store: the run meets the outage
                    proxy.drop()
                    outage_thread.start()

        waiting = [threading.Thread(target=wait, args=(ids[i::self.waiters],))
                   for i in range(self.waiters)]
        writing = [threading.Thread(target=write, args=(ids[i::self.writers],))
                   for i in range(self.writers)]
        for thread in [*waiting, *writing]:
            thread.start()
        for thread in writing:
            thread.join()
        outage_thread.join()
        for thread in waiting:
            thread.join()
        metas = reader.get_many(ids, cache=False)
        lost = [t for t in ids if metas[t].get("result") != t]
        self._report(stored=stored, lost=len(lost), max_call=max(call_times), retries=retries.count)
        assert retries.count > 0, "the run never met the outage"
        assert not lost, f"{len(lost)} results lost, e.g. {lost[:3]}"
        assert not wait_errors, f"waiters failed: {wait_errors[:3]}"
        assert woken == set(ids), f"{len(set(ids) - woken)} waiters never woke"

    def test_outage_error_says_how_to_retry(self, proxied: Proxied, proxy: FaultProxy) -> None:
        backend = proxied.open(proxy.port)
        run = uuid.uuid4().hex[:8]
        backend.mark_as_done(f"before-{run}", 1)
        proxy.drop()
        try:
            store_time, stored = _timed(lambda: backend.mark_as_done(f"during-{run}", 2))
            fetch_time, fetched = _timed(lambda: backend.get_task_meta(f"before-{run}", cache=False))
        finally:
            proxy.restore()
        assert isinstance(stored, BackendStoreError), repr(stored)
        assert isinstance(fetched, BackendGetMetaError), repr(fetched)
        assert stored.task_id == f"during-{run}"
        for error in (stored, fetched):
            assert "result_backend_always_retry" in str(error), str(error)
        assert max(store_time, fetch_time) < self.call_timeout, (store_time, fetch_time)
        deadline = time.monotonic() + self.call_timeout + 5  # the client reconnects by itself
        while True:
            try:
                backend.mark_as_done(f"during-{run}", 2)
                break
            except BackendError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert backend.get_task_meta(f"before-{run}", cache=False)["result"] == 1
        assert backend.get_task_meta(f"during-{run}", cache=False)["result"] == 2

    def test_stalled_server_never_hangs_a_caller(self, proxied: Proxied, proxy: FaultProxy) -> None:
        if self.stall_unbounded:
            pytest.skip(f"a stalled server holds calls: {self.stall_unbounded}")
        backend = proxied.open(proxy.port)
        run = uuid.uuid4().hex[:8]
        backend.mark_as_done(f"warm-{run}", 1)
        proxy.stall()
        try:
            times = {
                "store": _timed(lambda: backend.mark_as_done(f"stall-{run}", 2)),
                "fetch": _timed(lambda: backend.get_task_meta(f"warm-{run}", cache=False)),
                "wait": _timed(lambda: waiter(backend).wait(f"never-{run}", timeout=0.5,
                                                           interval=0.1)),
            }
        finally:
            proxy.restore()
        self._report(stall_max_call=max(t for t, _ in times.values()))
        for name, (elapsed, error) in times.items():
            # a store may accept a write it cannot confirm (a publish): then it returns in time
            if error is not None or name == "wait":
                assert isinstance(error, (BackendError, TimeoutError)), (name, repr(error))
            limit = self.call_timeout + (0.5 if name == "wait" else 0)
            assert elapsed < limit, f"{name} took {elapsed:.1f}s against a stalled server"

    def test_reset_and_slow_connections_with_always_retry(self, proxied: Proxied,
                                                           proxy: FaultProxy) -> None:
        backend = proxied.open(proxy.port, **ALWAYS_RETRY)
        run = uuid.uuid4().hex[:8]
        backend.mark_as_done(f"a-{run}", 1)
        assert backend.get_task_meta(f"a-{run}", cache=False)["result"] == 1
        proxy.reset()
        backend.mark_as_done(f"b-{run}", 2)
        assert backend.get_task_meta(f"b-{run}", cache=False)["result"] == 2
        proxy.slow(0.02)
        backend.mark_as_done(f"c-{run}", 3)
        assert backend.get_task_meta(f"c-{run}", cache=False)["result"] == 3
        proxy.restore()
        assert proxy.connections >= 2  # the reset really forced a new connection

    def _report(self, **figures: Any) -> None:
        path = os.environ.get("RESULTSTORE_OUTAGE_REPORT")
        line = {"suite": type(self).__name__, "ops": self.outage_ops,
                "outage_s": self.outage_seconds, **figures}
        print(json.dumps(line))
        if path:
            with open(path, "a", encoding="utf-8") as report:
                report.write(json.dumps(line) + "\n")


def table(lines: list[dict[str, Any]]) -> str:
    """The report as a Markdown table: one row per suite."""
    rows: dict[str, dict[str, Any]] = {}
    for line in lines:
        rows.setdefault(line["suite"], {}).update(line)
    out = ["| suite | stores | outage | stored | lost | max call (s) | retries | stalled call max (s) |",
           "|---|---|---|---|---|---|---|---|"]
    for name, row in sorted(rows.items()):
        cells = [name, row.get("ops"), f"{row.get('outage_s')} s", row.get("stored", "-"),
                 row.get("lost", "-"), _seconds(row.get("max_call")), row.get("retries", "-"),
                 _seconds(row.get("stall_max_call"))]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out)


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(path: str) -> None:
    """Print the table of a ``RESULTSTORE_OUTAGE_REPORT`` file (``nox -s outage`` does)."""
    try:
        with open(path, encoding="utf-8") as report:
            print(table([json.loads(line) for line in report if line.strip()]))
    except FileNotFoundError:
        print("no outage report (no outage test ran to its end)")
