"""Push wake-ups from CouchDB's ``_changes`` feed: one long poll per store, for every waiter.

* The feed is read from its sequence at the time the subscriber is built
  (``_changes?since=now``, which also fails at once where the feed is not served: core
  then polls those waits), so any value written after ``subscribe(key)`` returns is delivered (core reads
  each key once more after subscribing, for values written before).
* The feed is not filtered on the server: it returns every change of the database (ids and
  revisions only, no documents), the waited keys are picked out here and their documents
  fetched with one ``_all_docs`` request; answers hold at most :data:`PAGE` changes, so a
  burst of writes is read page by page in bounded memory.  A key subscribed while a long poll is pending is
  therefore seen in the very next answer; a filtered feed (``_doc_ids``) would have to be
  restarted, and would miss changes made while it was.
* After a lost connection or an error the reader backs off, takes the current
  sequence again and calls ``on_reconnect`` (core re-reads every waited key), so
  nothing written meanwhile is missed, even if the server was restarted empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from resultstore.spec import MessageHandler

from .client import Client, client_options
from .docs import check

if TYPE_CHECKING:
    from .store import CouchDBStore

__all__ = ["ChangesSubscriber"]

log = logging.getLogger(__name__)

#: Seconds the server holds a long poll open when nothing changes.
LONGPOLL = 25.0
#: Changes per answer: a burst of writes is read in pages (bounded memory, prompt delivery).
PAGE = 100
#: Backoff after a failed poll: first and longest wait, seconds.
BACKOFF, BACKOFF_MAX = 0.1, 5.0


class ChangesSubscriber:
    """The shared push channel of one :class:`~resultstore_couchdb.store.CouchDBStore`."""

    def __init__(self, store: CouchDBStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None], *, longpoll: float = LONGPOLL) -> None:
        self.store = store
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._longpoll = longpoll
        self._lock = threading.Lock()
        self._keys: dict[str, int] = {}
        self._closed = threading.Event()
        options = client_options(store.config)
        options["timeout"] = httpx.Timeout(store.config.timeout, read=longpoll + store.config.timeout)
        options["limits"] = httpx.Limits(max_connections=1)
        # a long-lived stream: uncompressed, so no decompressor state is held between changes
        options["headers"] = {**options["headers"], "Accept-Encoding": "identity"}
        store.client  # noqa: B018 - the store's client ensures the database exists
        self._client = Client(**options)
        try:
            self._since = self._current_seq()  # raises when the feed cannot be read
        except BaseException:
            self._client.close()
            raise
        self._thread = threading.Thread(target=self._run, name="resultstore-couchdb-changes",
                                        daemon=True)
        self._thread.start()

    # -- the Subscriber protocol ------------------------------------------------------
    def subscribe(self, key: str) -> None:
        with self._lock:
            self._keys[key] = self._keys.get(key, 0) + 1

    def unsubscribe(self, key: str) -> None:
        with self._lock:
            count = self._keys.pop(key, 0) - 1
            if count > 0:
                self._keys[key] = count

    def close(self) -> None:
        """Stop reading; a pending long poll is abandoned (the thread exits when it returns)."""
        self._closed.set()
        self._client.close()

    @property
    def keys(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._keys)

    # -- the reader thread ------------------------------------------------------------
    def _current_seq(self) -> Any:
        """The feed's current sequence: ``_changes?since=now`` answers at once with it (and
        fails where the feed is not served, so waits poll instead of waiting for nothing)."""
        response = check(self._client.get(f"{self.store.db}/_changes", params={"since": "now"}),
                         "read the _changes feed")
        return response.json()["last_seq"]

    def _poll(self) -> list[str]:
        """One long poll from ``since``: the ids of changed, waited-for documents."""
        params = {"feed": "longpoll", "since": self._since, "timeout": int(self._longpoll * 1000),
                  "limit": PAGE}
        body = check(self._client.get(f"{self.store.db}/_changes", params=params),
                     "read the _changes feed").json()
        self._since = body["last_seq"]
        waited = self.keys
        return list(dict.fromkeys(row["id"] for row in body.get("results", [])
                                  if isinstance(row, dict) and row.get("id") in waited))

    def _deliver(self, ids: list[str]) -> None:
        now_live = self.store._live
        for name, blob in zip(ids, self.store.read_blobs(ids), strict=True):
            data = now_live(blob)
            if data is not None and name in self.keys:
                self._on_message(name, data)

    def _run(self) -> None:
        delay, lost = BACKOFF, False
        while not self._closed.is_set():
            try:
                if lost:
                    self._since = self._current_seq()
                    lost = False
                    self._on_reconnect()
                ids = self._poll()
                if ids:
                    self._deliver(ids)
                delay = BACKOFF
            except Exception as exc:  # noqa: BLE001 - any failure: back off, resync, go on
                if self._closed.is_set():
                    return
                log.warning("resultstore-couchdb: _changes feed of %s failed (%s: %s); retrying in %.1fs",
                            self.store.as_uri(), type(exc).__name__, exc, delay)
                lost = True
                if self._closed.wait(delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX)
