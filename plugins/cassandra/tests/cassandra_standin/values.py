"""The stand-in's data model (cells with expiry and write time, rows, partitions, tables) and
the value parsing and type checks of its CQL subset."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cassandra import InvalidRequest
from cassandra.query import UNSET_VALUE

__all__ = ["PARAM", "Key", "Cell", "Row", "Partition", "Table", "split", "value_of", "check",
           "where_of"]

PARAM = re.compile(r"\?|%s")
Key = tuple[Any, ...]


@dataclass
class Cell:
    value: Any
    expires: float | None
    ts: int


@dataclass
class Row:
    marker: Cell | None = None
    cells: dict[str, Any] = field(default_factory=dict)


@dataclass
class Partition:
    static: dict[str, Cell] = field(default_factory=dict)
    rows: dict[Key, Row] = field(default_factory=dict)


@dataclass
class Table:
    name: str
    columns: dict[str, str]
    static: set[str]
    pk: list[str]
    ck: list[str]
    descending: bool = False
    partitions: dict[Key, Partition] = field(default_factory=dict)


def split(text: str) -> list[str]:
    """Split on top-level commas."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "(<{"
        depth -= char in ")>}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def value_of(token: str, params: list[Any]) -> Any:
    token = token.strip()
    if token.startswith("\x00"):
        return params[int(token.strip("\x00"))]
    if token.lower() == "null":
        return None
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token == "{}":
        return {}
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    raise InvalidRequest(f"stand-in: unsupported literal {token!r}")


def check(kind: str, value: Any, column: str) -> Any:
    """Type checks as the server (or the driver's serializers) would make them."""
    if value is None or value is UNSET_VALUE:
        return value
    ok = {"text": isinstance(value, str), "blob": isinstance(value, (bytes, bytearray, memoryview)),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "timestamp": isinstance(value, (datetime, int))}.get(kind, kind.startswith("map<"))
    if not ok:
        raise InvalidRequest(f"stand-in: invalid {kind} value for {column}: {type(value).__name__}")
    if kind == "blob":
        return bytes(value)
    if kind == "timestamp":  # millisecond precision, naive UTC out (as the driver returns)
        if isinstance(value, int):
            value = datetime.fromtimestamp(value / 1000, timezone.utc)
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def where_of(text: str, params: list[Any]) -> dict[str, Any]:
    conditions = {}
    for clause in re.split(r"\s+AND\s+", text.strip(), flags=re.I):
        match = re.fullmatch(r"(\w+)\s*=\s*(.+)", clause.strip())
        if not match:
            raise InvalidRequest(f"stand-in: unsupported condition {clause!r}")
        conditions[match[1].lower()] = value_of(match[2], params)
    return conditions


