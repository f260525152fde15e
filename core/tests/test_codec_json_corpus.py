"""Our JSON codec against kombu's on a corpus: same bytes out, same objects (and types) back.

Covers the decoding fast path (no ``__type__`` and no ``\\u`` escape in the text: parsed
without the per-object hook) and its edges: tags spelt with escapes, non-ASCII text,
tags nested deep in results, look-alike keys.
"""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
from kombu.utils import json as kombu_json

from resultstore.codec import json_dumps, json_loads

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)
VALUES = [
    None, True, 0, -1, 2**70, 1.5, "", "plain", "é ü 中文 \U0001f600", "\\u0041 literally",
    "__type__", [1, [2, [3]]], {"a": {"b": {"c": []}}},
    {"status": "SUCCESS", "result": 4, "traceback": None, "children": [],
     "date_done": NOW.isoformat(), "task_id": "0f" * 16},
    NOW, NOW.date(), datetime.time(1, 2, 3, 4), decimal.Decimal("1.10"), uuid.UUID(int=7),
    b"bytes", b"\xff\xfe binary",
    {"deep": [{"x": NOW}, {"y": [decimal.Decimal("3.3")]}]},
    {"__type__": "not-a-tag-without-value"}, {"__value__": 1},
    {"__type__": "datetime", "__value__": NOW.isoformat(), "extra": 1},
    {"exc_type": "ValueError", "exc_message": ["bad é"], "exc_module": "builtins"},
]
TEXTS = [
    '{"\\u005f_type__": "date", "__value__": "2026-01-02"}',
    '{"\\u005F\\u005Ftype\\u005f\\u005f": "uuid", "__value__": {"hex": "' + "0" * 32 + '"}}',
    '{"a": "\\u00e9", "b": [1, 2.0, null, true]}',
    '[{"__type__": "decimal", "__value__": "1.0"}, "x"]',
    '{"__type__": "bytes", "__value__": "abc"}',
    '  {"k": "v"}  ',
]


def _same(ours, theirs) -> None:
    assert ours == theirs
    assert type(ours) is type(theirs)
    if isinstance(ours, dict):
        for key in ours:
            _same(ours[key], theirs[key])
    elif isinstance(ours, list):
        for a, b in zip(ours, theirs, strict=True):
            _same(a, b)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_encoding_is_kombus_byte_for_byte_and_decodes_the_same(value) -> None:
    data = json_dumps(value)
    assert data == kombu_json.dumps(value).encode("utf-8")
    _same(json_loads(data), kombu_json.loads(data))


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_hand_written_texts_decode_as_kombu(text) -> None:
    _same(json_loads(text.encode("utf-8")), kombu_json.loads(text))


def test_escaped_tag_still_decoded() -> None:
    assert json_loads(b'{"\\u005f_type__": "date", "__value__": "2026-01-02"}') == NOW.date()


@pytest.mark.parametrize("text", ['{"a": 1', "\ufeff{}", "", "nan", '{"a": NaN}'])
def test_malformed_is_an_error_either_way(text) -> None:
    try:
        expected = kombu_json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            json_loads(text.encode("utf-8"))
    else:
        got = json_loads(text.encode("utf-8"))
        assert repr(got) == repr(expected)
