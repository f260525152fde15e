"""The documents of the stand-in: what a Couchbase data node keeps, nothing of its protocol.

Each document is ``(value bytes, flags, cas, expires_at)``; every operation runs under one
lock and answers an error *name* instead of raising (so the answers cross a
``multiprocessing`` manager: :mod:`.remote`).  Expiry as the server applies it: an expiry
under 30 days is relative seconds, above it an absolute Unix time; an expired document is
absent.  CAS values grow per mutation; ``replace``/``remove`` with a non-zero CAS compare it.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

__all__ = ["DocumentServer", "THIRTY_DAYS"]

THIRTY_DAYS = 30 * 24 * 3600
#: (outcome, payload): outcome is "ok" or an error name ("missing", "exists", "cas").
Answer = tuple[str, Any]


class DocumentServer:
    """One bucket's collections: ``{(scope, collection, key): (value, flags, cas, expires)}``."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str, str], tuple[bytes, int, int, float | None]] = {}
        self.lock = threading.Lock()
        self._cas = itertools.count(int(time.time()) << 16)
        #: Number of key/value operations served (round trips of the SDK, one per key).
        self.ops = 0

    @staticmethod
    def _expires(expiry: int | None) -> float | None:
        if not expiry:
            return None
        return time.time() + expiry if expiry < THIRTY_DAYS else float(expiry)

    def _live(self, where: tuple[str, str, str]) -> tuple[bytes, int, int, float | None] | None:
        doc = self.docs.get(where)
        if doc is not None and doc[3] is not None and doc[3] <= time.time():
            del self.docs[where]
            return None
        return doc

    def run(self, op: str, where: tuple[str, str, str], value: bytes | None = None, flags: int = 0,
            expiry: int | None = None, cas: int = 0) -> Answer:
        with self.lock:
            self.ops += 1
            doc = self._live(where)
            if op == "get":
                return ("missing", None) if doc is None else ("ok", (doc[0], doc[1], doc[2]))
            if op == "remove":
                if doc is None:
                    return "missing", None
                if cas and cas != doc[2]:
                    return "cas", None
                del self.docs[where]
                return "ok", next(self._cas)
            if op == "insert" and doc is not None:
                return "exists", None
            if op == "replace":
                if doc is None:
                    return "missing", None
                if cas and cas != doc[2]:
                    return "cas", None
            new_cas = next(self._cas)
            self.docs[where] = (bytes(value or b""), flags, new_cas, self._expires(expiry))
            return "ok", new_cas

    def run_many(self, calls: list[tuple[Any, ...]]) -> list[Answer]:
        return [self.run(*call) for call in calls]

    def count(self) -> int:
        return self.ops

    def keys(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return [where for where in list(self.docs) if self._live(where) is not None]

    def expiry_of(self, where: tuple[str, str, str]) -> float | None:
        with self.lock:
            doc = self._live(where)
            return None if doc is None else doc[3]
