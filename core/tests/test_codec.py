"""Byte-compatibility of metas with Celery 5.7's own backend code."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.backends.base import KeyValueStoreBackend

from resultstore import states
from resultstore.codec import Codec, build_meta, exception_to_python, json_dumps, json_loads
from resultstore.errors import DecodeError, SecurityError

FIXED = dt.datetime(2026, 11, 24, 22, 27, 59, 837167, tzinfo=dt.timezone.utc)


class CustomError(Exception):
    pass


class _Captured(KeyValueStoreBackend):
    supports_result_compression = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)


@pytest.fixture
def celery_backend():
    app = Celery("codec", set_as_current=False)
    app.now = lambda: FIXED
    return _Captured(app=app)


def _ours(task_id, result, state, traceback=None, request=None, extended=False):
    codec = Codec()
    return codec.encode(build_meta(task_id, codec.encode_result(result, state), state, traceback,
                                   request, extended=extended, now=lambda: FIXED))


REQUEST = SimpleNamespace(id="11111111-aaaa", group="gggg", parent_id="pppp", task="proj.add",
                          args=[2, 3], kwargs={"z": 1}, hostname="w1@host", retries=0,
                          delivery_info={"routing_key": "celery"}, children=[], ignore_result=False)


@pytest.mark.parametrize(("result", "state", "traceback", "request_"), [
    (5, states.SUCCESS, None, REQUEST),
    ({"a": [1, "ż"], "d": FIXED, "u": uuid.UUID(int=7), "m": Decimal("1.5")}, states.SUCCESS, None, None),
    (ValueError("bad value", 42), states.FAILURE, "Traceback...", None),
    (CustomError("custom"), states.FAILURE, "tb", REQUEST),
    (KeyError("k"), states.RETRY, "tb", None),
    ({"pid": 1, "hostname": "h"}, states.STARTED, None, REQUEST),
])
def test_task_meta_bytes_identical(celery_backend, result, state, traceback, request_):
    celery_backend.store_result("11111111-aaaa", result, state, traceback=traceback, request=request_)
    theirs = celery_backend.data[b"celery-task-meta-11111111-aaaa"]
    theirs = theirs.encode() if isinstance(theirs, str) else theirs
    assert _ours("11111111-aaaa", result, state, traceback, request_) == theirs


def test_extended_meta_bytes_identical(celery_backend):
    celery_backend.app.conf.result_extended = True
    celery_backend.store_result("11111111-aaaa", 5, states.SUCCESS, request=REQUEST)
    theirs = celery_backend.data[b"celery-task-meta-11111111-aaaa"]
    assert _ours("11111111-aaaa", 5, states.SUCCESS, request=REQUEST, extended=True) == theirs.encode()


def test_group_meta_bytes_identical(celery_backend):
    from celery.result import AsyncResult, GroupResult

    group = GroupResult("gid-1", [AsyncResult("t1", app=celery_backend.app),
                                  AsyncResult("t2", app=celery_backend.app)], app=celery_backend.app)
    celery_backend.save_group("gid-1", group)
    theirs = celery_backend.data[b"celery-taskset-meta-gid-1"]
    assert Codec().encode({"result": group.as_tuple()}) == theirs.encode()


def test_celery_payloads_decode_equal(celery_backend):
    celery_backend.store_result("t-fail", CustomError("x", 1), states.FAILURE, traceback="tb")
    ours = Codec().decode_meta(celery_backend.data[b"celery-task-meta-t-fail"])
    theirs = celery_backend.get_task_meta("t-fail")
    assert type(ours["result"]) is type(theirs["result"]) is CustomError
    assert ours["result"].args == theirs["result"].args
    assert {k: v for k, v in ours.items() if k != "result"} == \
        {k: v for k, v in theirs.items() if k != "result"}


def test_compressed_celery_payload_decodes():
    app = Celery("codec", set_as_current=False)
    app.conf.result_compression = "gzip"
    backend = _Captured(app=app)
    backend.store_result("t", "z" * 1000, states.SUCCESS)
    assert Codec().decode_meta(backend.data[b"celery-task-meta-t"])["result"] == "z" * 1000
    ours = Codec(compression="gzip").encode({"status": "SUCCESS", "result": "q"})
    assert backend.decode(ours) == {"status": "SUCCESS", "result": "q"}


def test_json_tagged_types_roundtrip():
    value = {"d": FIXED, "day": FIXED.date(), "t": FIXED.timetz(), "u": uuid.uuid4(),
             "m": Decimal("2.50"), "b": b"raw", "b64": b"\xff\x00"}
    assert json_loads(json_dumps(value)) == value


@pytest.mark.parametrize("payload", [
    {"exc_module": "os", "exc_type": "system", "exc_message": ["id"]},
    {"exc_module": "builtins", "exc_type": "eval", "exc_message": ["1"]},
    {"exc_module": "builtins", "exc_type": "object", "exc_message": []},
    {"exc_module": "builtins", "exc_type": "ValueError.__class__", "exc_message": []},
    {"exc_module": "subprocess", "exc_type": "Popen", "exc_message": ["ls"]},
    {"exc_module": "os; import os", "exc_type": "X", "exc_message": []},
    {"exc_module": "builtins", "exc_type": "__import__", "exc_message": ["os"]},
])
def test_hostile_exception_dicts_refused(payload):
    import subprocess  # noqa: F401 - make sure the module is loaded: still refused

    with pytest.raises(SecurityError):
        exception_to_python(payload)


def test_exception_decode_never_imports():
    import sys

    assert "xml.dom.minidom" not in sys.modules or pytest.skip("already imported")
    exc = exception_to_python({"exc_module": "xml.dom.minidom", "exc_type": "Node", "exc_message": []})
    assert "xml.dom.minidom" not in sys.modules
    assert type(exc).__name__ == "Node" and isinstance(exc, Exception)


def test_standin_keeps_name_module_and_args():
    exc = exception_to_python({"exc_module": "gone.mod", "exc_type": "Outer.Inner", "exc_message": ["a", 1]})
    assert type(exc).__qualname__ == "Outer.Inner" and type(exc).__module__ == "gone.mod"
    assert exc.args == ("a", 1)


def test_bad_constructor_args_give_generic_exception():
    exc = exception_to_python({"exc_module": "builtins", "exc_type": "UnicodeDecodeError",
                               "exc_message": ["only one"]})
    assert type(exc) is Exception


def test_decode_errors_are_typed():
    codec = Codec()
    with pytest.raises(DecodeError):
        codec.decode(b"{not json")
    with pytest.raises(DecodeError, match="not a task meta"):
        codec.decode_meta(b"[1, 2]")
    with pytest.raises(DecodeError, match="cannot decompress"):
        codec.decode(b"\x00celery-compressed\x00application/x-nope\x00abc")


def test_bson_serializer_roundtrip_and_accept():
    pytest.importorskip("bson", reason="the bson serializer is pymongo's bson (resultstore-mongodb)")
    codec = Codec("bson", ["bson"])
    value = {"n": [1, 2.5, "ż", None], "when": dt.datetime(2026, 1, 2, 3, 4, 5)}
    assert codec.decode(codec.encode(value)) == value
    with pytest.raises(SecurityError):  # written as bson, read where only json is accepted
        Codec("bson", ["json"]).decode(codec.encode(value))
