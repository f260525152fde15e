"""Payload serializers, byte-compatible with kombu's (json, pickle, msgpack, yaml).

JSON is the default and the only one needing no extra; pickle is only ever
*read* when the accept list allows it, because unpickling runs code.
"""

from __future__ import annotations

import base64
import json
import pickle
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from ..errors import DecodeError, ImproperlyConfigured, SecurityError

__all__ = ["Serializer", "get_serializer", "resolve_accept", "json_dumps", "json_loads"]


def _as(marker: str, value: Any) -> dict[str, Any]:
    return {"__type__": marker, "__value__": value}


class _KombuJSONEncoder(json.JSONEncoder):
    """kombu.utils.json.JSONEncoder: the same tagged types, the same output."""

    def default(self, o: Any) -> Any:
        reducer = getattr(o, "__json__", None)
        if reducer is not None:
            return reducer()
        if isinstance(o, datetime):
            return _as("datetime", o.isoformat())
        if isinstance(o, date):
            return _as("date", o.isoformat())
        if isinstance(o, time):
            return _as("time", o.isoformat())
        if isinstance(o, Decimal):
            return _as("decimal", str(o))
        if isinstance(o, uuid.UUID):
            return _as("uuid", {"hex": o.hex})
        if isinstance(o, bytes):
            try:
                return _as("bytes", o.decode("utf-8"))
            except UnicodeDecodeError:
                return _as("base64", base64.b64encode(o).decode("utf-8"))
        return super().default(o)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": lambda v: datetime.fromisoformat(v).date(),
    "time": time.fromisoformat,
    "decimal": Decimal,
    "uuid": lambda v: uuid.UUID(hex=v["hex"]),
    "bytes": lambda v: v.encode("utf-8"),
    "base64": lambda v: base64.b64decode(v.encode("utf-8")),
}


def _object_hook(obj: dict[str, Any]) -> Any:
    if obj.keys() == {"__type__", "__value__"}:
        decoder = _DECODERS.get(obj["__type__"])
        if decoder is None:
            raise DecodeError(f"Unsupported tagged JSON type {obj['__type__']!r}")
        return decoder(obj["__value__"])
    return obj


def json_dumps(obj: Any) -> bytes:
    """Serialize like ``kombu.utils.json.dumps`` and encode as UTF-8."""
    return json.dumps(obj, cls=_KombuJSONEncoder).encode("utf-8")


#: Decoders made once: ``json.loads(s, object_hook=...)`` builds a new one per call.
_PLAIN = json.JSONDecoder()
_TAGGED = json.JSONDecoder(object_hook=_object_hook)


def json_loads(data: bytes | str) -> Any:
    """Deserialize like ``kombu.utils.json.loads`` (bytes are UTF-8, as kombu decodes them).

    Never ``json.loads(bytes)``: it guesses UTF-16/32 from the first bytes and
    imports that codec's module, so stored bytes would choose imports.

    A tagged value needs the key ``__type__`` in the text, spelt out or with a
    ``\\u`` escape (the only way to escape ``_`` or a letter in JSON); text with
    neither has no tagged value, so the per-object hook is skipped and the whole
    document is parsed in C.  The result is the same object either way.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8")
    if "__type__" in data or "\\u" in data:
        return _TAGGED.decode(data)
    return _PLAIN.decode(data)


def _pickle_dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=4)


def _msgpack() -> Any:
    try:
        import msgpack  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImproperlyConfigured("The msgpack serializer needs `pip install msgpack`.") from exc
    return msgpack


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImproperlyConfigured("The yaml serializer needs `pip install pyyaml`.") from exc
    return yaml


def _bson() -> Any:
    try:
        import bson  # type: ignore[import-not-found]  # pymongo's
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImproperlyConfigured(
            "The bson serializer needs pymongo's bson (`pip install pymongo`).") from exc
    return bson


@dataclass(frozen=True)
class Serializer:
    """A named serializer with kombu's content type."""

    name: str
    content_type: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]
    #: Can carry exception instances as such (only pickle).
    carries_exceptions: bool = False


_SERIALIZERS = {
    s.name: s
    for s in (
        Serializer("json", "application/json", json_dumps, json_loads),
        Serializer("pickle", "application/x-python-serialize", _pickle_dumps, pickle.loads,
                   carries_exceptions=True),
        Serializer("msgpack", "application/x-msgpack",
                   lambda o: _msgpack().packb(o, use_bin_type=True),
                   lambda b: _msgpack().unpackb(b, raw=False)),
        # kombu has none; Celery's MongoBackend stores such results as native BSON values
        Serializer("bson", "application/bson",
                   lambda o: _bson().encode({"v": o}),
                   lambda b: _bson().decode(b)["v"]),
        Serializer("yaml", "application/x-yaml",
                   lambda o: _yaml().safe_dump(o).encode("utf-8"),
                   lambda b: _yaml().safe_load(b)),
    )
}
_BY_CONTENT_TYPE = {s.content_type: s for s in _SERIALIZERS.values()}


def get_serializer(name: str) -> Serializer:
    """Return the serializer called ``name`` (or by content type)."""
    found = _SERIALIZERS.get(name) or _BY_CONTENT_TYPE.get(name)
    if found is None:
        raise ImproperlyConfigured(
            f"Unknown result_serializer {name!r}; choose one of {sorted(_SERIALIZERS)}."
        )
    return found


def resolve_accept(accept: Iterable[str]) -> frozenset[str]:
    """Map an accept list of names or content types to content types, as kombu."""
    return frozenset(get_serializer(item).content_type for item in accept)


def check_accepted(serializer: Serializer, accept: frozenset[str]) -> None:
    """Refuse to decode with a serializer the accept list does not allow."""
    if serializer.content_type not in accept:
        raise SecurityError(
            f"Refusing to decode {serializer.content_type} results: not in the accept list "
            f"({sorted(accept)}). Add {serializer.name!r} to result_accept_content if "
            f"you trust every writer of this store."
        )
