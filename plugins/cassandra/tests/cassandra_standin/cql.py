"""The CQL subset Celery's CassandraBackend and resultstore-cassandra send, over in-process tables.

Statements: CREATE KEYSPACE/TABLE, ALTER TABLE ADD, INSERT (``IF NOT EXISTS``, ``USING TTL``),
UPDATE (``USING TTL``, map elements, ``IF col = v`` conditions), DELETE (partition or
clustering prefix), SELECT (columns, ``count(*)``, ``WRITETIME``, ``AS``, ``LIMIT``) and
``system_schema.columns``.  TTLs expire cells and row markers; every statement runs
atomically under one lock (a single replica: replica-level races are not modelled).
Anything else raises ``InvalidRequest``, so a statement outside the subset fails loudly.
"""

from __future__ import annotations

import re
import time
from typing import Any

from cassandra import AlreadyExists, InvalidRequest
from cassandra.query import UNSET_VALUE

from .values import PARAM, Cell, Key, Partition, Row, Table
from .values import check as _check
from .values import split as _split
from .values import value_of as _value
from .values import where_of as _where


class Database:
    """Keyspaces of tables; :meth:`run` executes one statement (call it under a lock)."""

    def __init__(self, clock: Any = time.time) -> None:
        self.tables: dict[tuple[str, str], Table] = {}
        self.clock = clock
        self._ts = 0

    def _now_ts(self) -> int:
        self._ts = max(self._ts + 1, int(self.clock() * 1e6))
        return self._ts

    def table(self, keyspace: str | None, name: str) -> Table:
        ks, _, bare = name.rpartition(".")
        found = self.tables.get(((ks or keyspace or "").lower(), bare.lower()))
        if found is None:
            raise InvalidRequest(f"unconfigured table {bare}")
        return found

    def run(self, keyspace: str | None, query: str, params: tuple[Any, ...] | list[Any] | None
            ) -> tuple[list[str], list[tuple[Any, ...]]]:
        counter = iter(range(10_000))
        text = PARAM.sub(lambda _: f"\x00{next(counter)}\x00", " ".join(query.split())).rstrip("; ")
        args = list(params or ())
        verb = text.split(" ", 1)[0].upper()
        handler = {"CREATE": self._create, "ALTER": self._alter, "INSERT": self._insert,
                   "UPDATE": self._update, "DELETE": self._delete, "SELECT": self._select}.get(verb)
        if handler is None:
            raise InvalidRequest(f"stand-in: unsupported statement {query[:60]!r}")
        return handler(keyspace, text, args)

    # -- DDL -------------------------------------------------------------------------
    def _create(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        if re.match(r"CREATE KEYSPACE", text, re.I):
            return [], []
        m = re.fullmatch(r"CREATE TABLE (IF NOT EXISTS )?([\w.]+) \((.*?)\)(?: WITH (.*))?", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported CREATE {text[:60]!r}")
        kspace, _, name = m[2].lower().rpartition(".")
        key = ((kspace or ks or "").lower(), name)
        if key in self.tables:
            if m[1]:
                return [], []
            raise AlreadyExists(keyspace=key[0], table=name)
        columns, static, pk, ck = {}, set(), [], []
        for item in _split(m[3]):
            pkm = re.fullmatch(r"PRIMARY KEY \((.*)\)", item, re.I)
            if pkm:
                keys = _split(pkm[1])
                pk = [c.strip().lower() for c in keys[0].strip("()").split(",")]
                ck = [c.strip().lower() for c in keys[1:]]
                continue
            cm = re.fullmatch(r"(\w+) ((?:map|set|list)<[^>]*>|\w+)(?: (.*))?", item, re.I)
            if not cm:
                raise InvalidRequest(f"stand-in: unsupported column definition {item!r}")
            columns[cm[1].lower()] = cm[2].lower().replace(" ", "")
            if (cm[3] or "").lower() == "static":
                static.add(cm[1].lower())
            elif (cm[3] or "").upper() == "PRIMARY KEY":
                pk = [cm[1].lower()]
        descending = bool(m[4] and re.search(r"DESC", m[4], re.I))
        self.tables[key] = Table(name, columns, static, pk, ck, descending)
        return [], []

    def _alter(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        m = re.fullmatch(r"ALTER TABLE ([\w.]+) ADD (\w+) ([\w<>, ]+?)( static)?", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported ALTER {text[:60]!r}")
        table = self.table(ks, m[1])
        if m[2].lower() in table.columns:
            raise InvalidRequest(f"Column with name '{m[2]}' already exists")
        table.columns[m[2].lower()] = m[3].lower()
        if m[4]:
            table.static.add(m[2].lower())
        return [], []

    # -- writes ----------------------------------------------------------------------
    def _expires(self, ttl: Any) -> float | None:
        return None if not ttl else self.clock() + int(ttl)

    def _live(self, cell: Cell | None) -> bool:
        return cell is not None and (cell.expires is None or cell.expires > self.clock())

    def _row_live(self, row: Row | None) -> bool:
        return row is not None and (self._live(row.marker) or any(
            self._live(c) if isinstance(c, Cell) else any(map(self._live, c.values()))
            for c in row.cells.values()))

    def _keys(self, table: Table, where: dict[str, Any]) -> tuple[Key, Key]:
        for column in (*table.pk, *table.ck):
            if column in where:
                where[column] = _check(table.columns[column], where[column], column)
        if any(c not in where for c in table.pk):
            raise InvalidRequest("stand-in: the partition key must be restricted by equality")
        return tuple(where[c] for c in table.pk), tuple(where[c] for c in table.ck if c in where)

    def _set(self, table: Table, part: Partition, ck: Key, column: str, value: Any,
             expires: float | None, ts: int, element: Any = UNSET_VALUE) -> None:
        if value is UNSET_VALUE or column not in table.columns:
            if column not in table.columns:
                raise InvalidRequest(f"Undefined column name {column}")
            return
        kind = table.columns[column]
        if column in table.static:
            target = part.static
        else:
            if len(ck) != len(table.ck):
                raise InvalidRequest("stand-in: missing clustering key")
            target = part.rows.setdefault(ck, Row()).cells
        if element is not UNSET_VALUE:  # map element: m[k] = v
            current = target.get(column)
            target[column] = current = current if isinstance(current, dict) else {}
            current[element] = Cell(value, expires, ts)
            return
        if kind.startswith("map<"):
            target[column] = {k: Cell(v, expires, ts) for k, v in (value or {}).items()}
            return
        value = _check(kind, value, column)
        if value is None:
            target.pop(column, None)
        else:
            target[column] = Cell(value, expires, ts)

    def _current(self, table: Table, part: Partition | None, ck: Key, column: str) -> Any:
        if part is None:
            return None
        cells = part.static if column in table.static else (
            part.rows[ck].cells if ck in part.rows else {})
        cell = cells.get(column)
        if isinstance(cell, dict):
            return {k: c.value for k, c in cell.items() if self._live(c)} or None
        return cell.value if self._live(cell) else None

    def _insert(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        m = re.fullmatch(r"INSERT INTO ([\w.]+) \((.*?)\) VALUES \((.*?)\)( IF NOT EXISTS)?"
                         r"(?: USING TTL (\S+))?", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported INSERT {text[:60]!r}")
        table = self.table(ks, m[1])
        names = [c.strip().lower() for c in m[2].split(",")]
        values = [_value(v, args) for v in _split(m[3])]
        row_values = dict(zip(names, values, strict=True))
        pk, ck = self._keys(table, dict(row_values))
        expires = self._expires(_value(m[5], args) if m[5] else None)
        part = table.partitions.get(pk)
        if m[4]:
            row = part.rows.get(ck) if part else None
            if self._row_live(row):
                existing = {c: self._current(table, part, ck, c) for c in table.columns}
                existing.update(zip(table.pk, pk, strict=True))
                existing.update(zip(table.ck, ck, strict=True))
                return ["[applied]", *existing], [(False, *existing.values())]
        part = table.partitions.setdefault(pk, Partition())
        ts = self._now_ts()
        part.rows.setdefault(ck, Row()).marker = Cell(True, expires, ts)
        for name, value in row_values.items():
            if name not in table.pk and name not in table.ck:
                self._set(table, part, ck, name, value, expires, ts)
        return (["[applied]"], [(True,)]) if m[4] else ([], [])

    def _update(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        m = re.fullmatch(r"UPDATE ([\w.]+)(?: USING TTL (\S+))? SET (.*?) WHERE (.*?)"
                         r"(?: IF (.*))?", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported UPDATE {text[:60]!r}")
        table = self.table(ks, m[1])
        assignments = []
        for item in _split(m[3]):
            am = re.fullmatch(r"(\w+)(?:\[(.+?)\])? = (.+)", item)
            if not am:
                raise InvalidRequest(f"stand-in: unsupported assignment {item!r}")
            element = _value(am[2], args) if am[2] else UNSET_VALUE
            assignments.append((am[1].lower(), element, _value(am[3], args)))
        pk, ck = self._keys(table, _where(m[4], args))
        part = table.partitions.get(pk)
        if m[5]:
            if m[5].strip().upper() == "EXISTS":
                raise InvalidRequest("stand-in: UPDATE IF EXISTS is not in the subset")
            expected = _where(m[5], args)
            current = {c: self._current(table, part, ck, c) for c in expected}
            if current != expected:
                return ["[applied]", *current], [(False, *current.values())]
        expires = self._expires(_value(m[2], args) if m[2] else None)
        part = table.partitions.setdefault(pk, Partition())
        ts = self._now_ts()
        for column, element, value in assignments:
            self._set(table, part, ck, column, value, expires, ts, element)
        return (["[applied]"], [(True,)]) if m[5] else ([], [])

    def _delete(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        m = re.fullmatch(r"DELETE FROM ([\w.]+) WHERE (.*)", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported DELETE {text[:60]!r}")
        table = self.table(ks, m[1])
        pk, ck = self._keys(table, _where(m[2], args))
        if not ck:
            table.partitions.pop(pk, None)
        elif pk in table.partitions:
            rows = table.partitions[pk].rows
            for key in [k for k in rows if k[:len(ck)] == ck]:
                del rows[key]
        return [], []

    # -- reads -----------------------------------------------------------------------
    def _select(self, ks: str | None, text: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        m = re.fullmatch(r"SELECT (.*?) FROM ([\w.]+)(?: WHERE (.*?))?(?: LIMIT (\S+))?", text, re.I)
        if not m:
            raise InvalidRequest(f"stand-in: unsupported SELECT {text[:60]!r}")
        where = _where(m[3], args) if m[3] else {}
        if m[2].lower() == "system_schema.columns":
            table = self.tables.get((where["keyspace_name"], where["table_name"]))
            return ["column_name"], [(c,) for c in (table.columns if table else ())]
        table = self.table(ks, m[2])
        pk, ck = self._keys(table, where)
        part = table.partitions.get(pk)
        keys = sorted((k for k in (part.rows if part else ()) if k[:len(ck)] == ck),
                      reverse=table.descending)
        live = [k for k in keys if self._row_live(part.rows[k])]  # type: ignore[union-attr]
        selectors = _split(m[1])
        if len(selectors) == 1 and selectors[0].lower().startswith("count(*)"):
            alias = re.search(r" AS (\w+)$", selectors[0], re.I)
            return [alias[1] if alias else "count"], [(len(live),)]
        names, getters = [], []
        for selector in selectors:
            sm = re.fullmatch(r"(?:(WRITETIME)\((\w+)\)|(\w+))(?: AS (\w+))?", selector, re.I)
            if not sm:
                raise InvalidRequest(f"stand-in: unsupported selector {selector!r}")
            column = (sm[2] or sm[3]).lower()
            if column not in table.columns:
                raise InvalidRequest(f"Undefined column name {column}")
            names.append(sm[4] or (f"writetime({column})" if sm[1] else column))
            getters.append((column, bool(sm[1])))
        out = []
        for key in live[:int(_value(m[4], args))] if m[4] else live:
            full = dict(zip(table.pk, pk, strict=True)) | dict(zip(table.ck, key, strict=True))
            values = []
            for column, writetime in getters:
                if writetime:
                    cell = part.rows[key].cells.get(column)  # type: ignore[union-attr]
                    values.append(cell.ts if isinstance(cell, Cell) and self._live(cell) else None)
                else:
                    values.append(full[column] if column in full else self._current(table, part, key, column))
            out.append(tuple(values))
        return names, out
