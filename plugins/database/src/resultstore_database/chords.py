"""Native chords in SQL: a counter row per chord, a part row per finished header task.

``add`` runs in one transaction:

1. make sure the counter row exists (insert-or-ignore);
2. insert the part, ignoring a duplicate ``(group_key, member)`` (a redelivered task
   is recorded once);
3. only for a new part: ``UPDATE ... SET count = count + 1 ... RETURNING`` the counter.
   The UPDATE takes the row lock (PostgreSQL, MySQL) or the database write lock
   (SQLite), so concurrent parts are serialized on it and each sees a distinct count;
4. the caller whose count reaches ``size + grow`` while ``done`` is false sets ``done``
   and is the only one told that the chord is complete.

The counter row stays (``done``) after ``clear`` so that a late duplicate is ignored;
``cleanup`` deletes rows older than the chord expiry.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from resultstore.spec import ChordProgress

from .sql import insert_ignore, upsert
from .tables import Tables

__all__ = ["set_size", "add", "grow", "parts", "clear", "cleanup"]


def _ensure_row(conn: Connection, tables: Tables, group_key: str, now: datetime,
                native: bool) -> None:
    insert_ignore(conn, tables.chord, {"group_key": group_key, "size": None, "grow": 0, "count": 0,
                                       "done": False, "date_done": now},
                  ["group_key"], native=native)


def set_size(conn: Connection, tables: Tables, group_key: str, size: int, now: datetime, *,
             native: bool = True) -> None:
    """Record the expected number of parts and re-arm the chord (Celery: ``DEL G.c``)."""
    values = {"group_key": group_key, "size": size, "grow": 0, "count": 0, "done": False,
              "date_done": now}
    upsert(conn, tables.chord, values, ["group_key"], ["size", "done", "date_done"], native=native)


def add(conn: Connection, tables: Tables, group_key: str, member: str, index: int | None,
        value: bytes, now: datetime, *, native: bool = True) -> ChordProgress:
    """Record one part; ``complete`` is true for exactly one caller."""
    chord = tables.chord
    _ensure_row(conn, tables, group_key, now, native)
    added = insert_ignore(conn, tables.chord_part,
                          {"group_key": group_key, "member": member, "idx": index, "value": value},
                          ["group_key", "member"], native=native)
    where = chord.c.group_key == group_key
    columns = (chord.c.count, chord.c.size, chord.c.grow, chord.c.done)
    if not added:
        count, size, grown, _ = conn.execute(sa.select(*columns).where(where)).one()
        return ChordProgress(count, None if size is None else size + grown, False)
    bump = sa.update(chord).where(where).values(count=chord.c.count + 1, date_done=now)
    if conn.dialect.update_returning:
        count, size, grown, done = conn.execute(bump.returning(*columns)).one()
    else:
        conn.execute(bump)
        count, size, grown, done = conn.execute(sa.select(*columns).where(where)).one()
    expected = None if size is None else size + grown
    complete = not done and expected is not None and count == expected
    if complete:
        conn.execute(sa.update(chord).where(where).values(done=True))
    return ChordProgress(count, expected, complete)


def grow(conn: Connection, tables: Tables, group_key: str, by: int, now: datetime, *,
         native: bool = True) -> None:
    """Expect ``by`` more parts (``Task.add_to_chord``)."""
    chord = tables.chord
    _ensure_row(conn, tables, group_key, now, native)
    conn.execute(sa.update(chord).where(chord.c.group_key == group_key)
                 .values(grow=chord.c.grow + by, date_done=now))


def parts(conn: Connection, tables: Tables, group_key: str) -> list[bytes]:
    """Part values ordered by index (parts without an index last, in arrival order)."""
    part = tables.chord_part
    rows = conn.execute(sa.select(part.c.value).where(part.c.group_key == group_key)
                        .order_by(part.c.idx.is_(None), part.c.idx, part.c.id))
    return [bytes(value) for value in rows.scalars()]


def clear(conn: Connection, tables: Tables, group_key: str, now: datetime) -> None:
    """Drop the parts; keep the counter row as a ``done`` marker until cleanup."""
    chord, part = tables.chord, tables.chord_part
    conn.execute(sa.delete(part).where(part.c.group_key == group_key))
    conn.execute(sa.update(chord).where(chord.c.group_key == group_key)
                 .values(done=True, date_done=now))


def cleanup(conn: Connection, tables: Tables, cutoff: datetime) -> int:
    """Delete chords (and their parts) untouched since ``cutoff``; return how many."""
    chord, part = tables.chord, tables.chord_part
    stale = sa.select(chord.c.group_key).where(chord.c.date_done < cutoff)
    conn.execute(sa.delete(part).where(part.c.group_key.in_(stale)))
    return int(conn.execute(sa.delete(chord).where(chord.c.date_done < cutoff)).rowcount)
