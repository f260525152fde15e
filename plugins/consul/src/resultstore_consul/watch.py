"""Push wake-ups from Consul blocking queries: one long poll per store, for every waiter.

The reader holds a blocking query (``?keys&index=<last X-Consul-Index>&wait=``) on the
prefix of task keys; Consul answers when anything under it changes (or the wait ends).
The waited keys found in the answer are then read with one transaction per 64 keys and
their live values delivered.  Consul's index may also move for unrelated reasons, and a
value is delivered again after each such change: core treats a repeated value as one.

* The first index is taken when the watcher is built, so a value written after
  ``subscribe(key)`` returns is seen (core reads each key once more after subscribing).
  While no key is waited for the reader sends nothing; when one is again, it lists the
  keys once without blocking (delivering waited keys already there), then blocks again.
* An index that goes backwards (a restored or restarted server) restarts from 0, as
  Consul's documentation asks; after a failed poll the reader backs off and calls
  ``on_reconnect`` (core re-reads every waited key).

Each answer lists the names of every task key under the prefix, so the cost of a change
grows with the number of stored results: with very many, set ``consul_watch=False``
(waiters poll).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from resultstore.keys import TASK_PREFIX
from resultstore.spec import MessageHandler

from .kv import check
from .store import client_options

if TYPE_CHECKING:
    from .store import ConsulStore

__all__ = ["ConsulWatcher"]

log = logging.getLogger(__name__)

#: Seconds Consul holds a blocking query when nothing changes.
WAIT = 25.0
BACKOFF, BACKOFF_MAX = 0.1, 5.0
#: An answer sooner than this without a new index is treated as spurious (then a pause).
SPURIOUS = 0.05


class ConsulWatcher:
    """The shared push channel of one :class:`~resultstore_consul.store.ConsulStore`."""

    def __init__(self, store: ConsulStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None], *, wait: float = WAIT) -> None:
        self.store = store
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._wait = wait
        self._lock = threading.Lock()
        self._keys: dict[str, int] = {}
        self._closed = threading.Event()
        self._wanted = threading.Event()  # set while any key is waited for
        self._prefix = store.name(store.keyprefix + TASK_PREFIX)
        options = client_options(store.config)
        options["timeout"] = httpx.Timeout(store.config.timeout,
                                           read=wait * 1.1 + store.config.timeout)
        options["limits"] = httpx.Limits(max_connections=1)
        self._client = httpx.Client(**options)
        try:
            self._index = self._poll(0, block=False)[0]
        except BaseException:
            self._client.close()
            raise
        self._thread = threading.Thread(target=self._run, name="resultstore-consul-watch",
                                        daemon=True)
        self._thread.start()

    # -- the Subscriber protocol --------------------------------------------------------
    def subscribe(self, key: str) -> None:
        with self._lock:
            self._keys[key] = self._keys.get(key, 0) + 1
            self._wanted.set()

    def unsubscribe(self, key: str) -> None:
        with self._lock:
            count = self._keys.pop(key, 0) - 1
            if count > 0:
                self._keys[key] = count
            if not self._keys:
                self._wanted.clear()

    def close(self) -> None:
        self._closed.set()
        self._wanted.set()
        self._client.close()

    @property
    def keys(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._keys)

    # -- the reader thread --------------------------------------------------------------
    def _poll(self, index: int, block: bool = True) -> tuple[int, list[str]]:
        """One (blocking) listing of the task keys: the new index and the names."""
        params = self.store.params(keys="")
        if block:
            params.update(index=index, wait=f"{int(self._wait * 1000)}ms")
        response = self._client.get(self.store.kv_path(self._prefix), params=params)
        if response.status_code != 404:
            check(response, "blocking query")
        try:
            new = int(response.headers.get("X-Consul-Index", "0"))
        except ValueError:
            new = 0
        names = response.json() if response.status_code == 200 else []
        return new, [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def _deliver(self, names: list[str]) -> None:
        waited = self.keys
        found = [n[len(self.store.prefix):] for n in names if n[len(self.store.prefix):] in waited]
        if not found:
            return
        blobs = self.store.read_blobs([self.store.name(key) for key in found])
        for key, blob in zip(found, blobs, strict=True):
            data = self.store._live(blob)
            if data is not None and key in self.keys:
                self._on_message(key, data)

    def _run(self) -> None:
        delay, lost, idle = BACKOFF, False, False
        while not self._closed.is_set():
            if not self._wanted.is_set():  # nobody waits: no requests until someone does
                self._wanted.wait()
                idle = True
                continue
            try:
                if lost:
                    self._index, lost = 0, False
                    self._on_reconnect()
                if idle:  # resuming: deliver what was written while idle, then block again
                    self._index, names = self._poll(0, block=False)
                    idle = False
                    self._deliver(names)
                    continue
                started = time.monotonic()
                index, names = self._poll(self._index)
                if index < self._index:
                    index = 0  # the index went backwards: start over
                changed, self._index = index != self._index, index
                if changed:
                    self._deliver(names)
                elif time.monotonic() - started < SPURIOUS:  # an early answer without change:
                    self._closed.wait(SPURIOUS)              # do not spin (Consul's advice)
                delay = BACKOFF
            except Exception as exc:  # noqa: BLE001 - any failure: back off, resync, go on
                if self._closed.is_set():
                    return
                log.warning("resultstore-consul: blocking query on %s failed (%s: %s); "
                            "retrying in %.1fs", self.store.as_uri(), type(exc).__name__, exc,
                            delay)
                lost = True
                if self._closed.wait(delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX)
