"""Native chords on Cassandra: idempotent rows, a count by SELECT and one claim by LWT.

One partition of ``<table>_chord`` per chord (``group_key``), clustered by ``(kind, member)``:

* ``('s', '')`` the size row: ``size``, ``grown`` (a map of one entry per ``add_to_chord``
  call, keyed by a token made once per call; it may come before the size) and ``arming``
  (a token made by each ``set_size``: re-applying a chord re-arms it, as Celery's ``DEL G.c``);
* ``('p', member)`` one row per finished header task (``idx``, ``value``);
* ``('c', arming)`` the completion claim, written only by ``INSERT ... IF NOT EXISTS``.

Counter columns are not used: a counter increment that times out cannot be retried
safely (it may have been applied), and a redelivered part would count twice.  Every
write here is idempotent instead: a part row written twice is one row, a grow entry
written twice is one entry.  ``add`` writes the part, then reads the number of part rows
and the size row concurrently; a caller that sees the chord full claims it with a
lightweight transaction (Paxos), which exactly one caller wins.  With quorum writes and
reads the caller whose part write completes last always sees every part, so a chord is
never left unclaimed; a claim whose response is lost is settled by a SERIAL read.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from resultstore.errors import ChordError
from resultstore.spec import ChordProgress

if TYPE_CHECKING:
    from .store import CassandraStore

__all__ = ["CassandraChords", "WEAK_LEVELS"]

#: Consistency levels too weak to count parts (a reader could miss a part); chord
#: statements use LOCAL_QUORUM instead of them.
WEAK_LEVELS = frozenset({"ANY", "ONE", "TWO", "THREE", "LOCAL_ONE"})


class CassandraChords:
    """The ``chord_*`` methods of :class:`~resultstore_cassandra.store.CassandraStore`."""

    def __init__(self, store: CassandraStore) -> None:
        self.store = store

    @property
    def table(self) -> str:
        return f"{self.store.config.table}_chord"

    def _statement(self, query: str, *, write: bool) -> Any:
        config = self.store.config
        level = config.write_consistency if write else config.read_consistency
        return self.store.statement(query, write=write,
                                    level="LOCAL_QUORUM" if level in WEAK_LEVELS else None)

    def _run(self, query: str, params: tuple[Any, ...], *, write: bool) -> Any:
        return self.store.run(self._statement(query, write=write), params)

    def _ttl(self, ttl: float | None) -> int:
        return self.store.ttl_for(ttl)

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        """Record the size with a new arming token.

        Growth is kept: Celery records the size just before it sends the *last* header task,
        so an earlier header task may already have called ``add_to_chord``.
        """
        self._run(f"INSERT INTO {self.table} (group_key, kind, member, size, arming) "
                  f"VALUES (?, 's', '', ?, ?) USING TTL ?",
                  (group_key, int(size), uuid.uuid4().hex, self._ttl(ttl)), write=True)

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        """One map entry per call: a retried request re-writes the same entry."""
        self._run(f"UPDATE {self.table} USING TTL ? SET grown[?] = ? "
                  f"WHERE group_key = ? AND kind = 's' AND member = ''",
                  (self._ttl(ttl), uuid.uuid4().hex, int(by), group_key), write=True)

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        self._run(f"INSERT INTO {self.table} (group_key, kind, member, idx, value) "
                  f"VALUES (?, 'p', ?, ?, ?) USING TTL ?",
                  (group_key, member, index, bytes(value), self._ttl(ttl)), write=True)
        counting = self.store.run_async(self._statement(
            f"SELECT count(*) AS parts FROM {self.table} WHERE group_key = ? AND kind = 'p'",
            write=False), (group_key,))
        sizing = self.store.run_async(self._statement(
            f"SELECT size, grown, arming FROM {self.table} "
            f"WHERE group_key = ? AND kind = 's' AND member = ''", write=False), (group_key,))
        count = int(counting.result().one()["parts"])
        row = sizing.result().one()
        if row is None or row["size"] is None:
            return ChordProgress(count, None, False)  # the size is recorded before the last part
        expected = int(row["size"]) + sum((row["grown"] or {}).values())
        if count != expected:
            return ChordProgress(count, expected, False)
        return ChordProgress(count, expected, self._claim(group_key, row["arming"] or "", ttl))

    def _claim(self, group_key: str, arming: str, ttl: float | None) -> bool:
        import cassandra

        token = uuid.uuid4().hex
        try:
            result = self._run(f"INSERT INTO {self.table} (group_key, kind, member, value) "
                               f"VALUES (?, 'c', ?, ?) IF NOT EXISTS USING TTL ?",
                               (group_key, arming, token.encode(), self._ttl(ttl)), write=True)
            row = result.one()
            if row["[applied]"]:
                return True
            return bool(row.get("value") == token.encode() or self._winner(group_key, arming) == token)
        except (cassandra.WriteTimeout, cassandra.OperationTimedOut):
            return self._winner(group_key, arming) == token  # did our lost proposal win?

    def _winner(self, group_key: str, arming: str) -> str | None:
        """The claim's token read at SERIAL consistency (finishes any in-flight Paxos round)."""
        statement = self.store.statement(
            f"SELECT value FROM {self.table} WHERE group_key = ? AND kind = 'c' AND member = ?",
            write=False, level=self.store.config.serial_consistency)
        row = self.store.run(statement, (group_key, arming)).one()
        return None if row is None or row["value"] is None else bytes(row["value"]).decode()

    def parts(self, group_key: str) -> list[bytes]:
        """Part values by index; parts without an index last, in arrival (write-time) order."""
        rows = list(self._run(f"SELECT idx, value, WRITETIME(value) AS written FROM {self.table} "
                              f"WHERE group_key = ? AND kind = 'p'", (group_key,), write=False))
        if any(row["value"] is None for row in rows):
            raise ChordError(f"Chord {group_key}: a part row has no value (expired?).")

        def order(row: dict[str, Any]) -> tuple[bool, int, int]:
            index = row["idx"]
            return (index is None, index or 0, row["written"] or int(time.time() * 1e6))

        return [bytes(row["value"]) for row in sorted(rows, key=order)]

    def clear(self, group_key: str) -> None:
        """Drop the part rows; the size and claim rows stay until their TTL, so a late
        duplicate of a finished part cannot complete the chord again."""
        self._run(f"DELETE FROM {self.table} WHERE group_key = ? AND kind = 'p'", (group_key,),
                  write=True)
