"""resultstore-riak specifics: URLs and Celery's former settings, the objects Celery 4's
RiakBackend stored, siblings, conditional writes by bucket type, round trips, errors."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from celery import Celery

import resultstore
from resultstore import states
from resultstore.backend import ResultBackend
from resultstore.config import Settings
from resultstore.errors import DecodeError, ImproperlyConfigured
from resultstore.spec import Capability
from resultstore_riak import RiakConfig, RiakStore
from resultstore_riak.objects import RiakHTTPError, decode, encode, is_transient


@pytest.fixture
def backend(riak_url: str) -> Iterator[ResultBackend]:
    opened = resultstore.connect(riak_url)
    yield opened
    opened.close()


def _store(backend: ResultBackend) -> RiakStore:
    assert isinstance(backend.store, RiakStore)
    return backend.store


def _meta(task_id: str, result: Any) -> dict[str, Any]:
    return {"status": states.SUCCESS, "result": result, "traceback": None, "children": [],
            "date_done": "2026-01-01T00:00:00+00:00", "task_id": task_id}


class Requests:
    def __init__(self, store: RiakStore) -> None:
        self.seen: list[str] = []
        store.client.event_hooks["request"].append(lambda r: self.seen.append(r.method))

    def count(self, func: Any, *args: Any) -> list[str]:
        self.seen.clear()
        func(*args)
        return list(self.seen)


# -- URLs and Celery 4's settings ------------------------------------------------------------
@pytest.mark.parametrize(("url", "conf", "expected"), [
    ("riak://", None, ("localhost", 8098, "celery", "default")),
    ("riak://h:8099/results", None, ("h", 8099, "results", "default")),
    ("riak://", {"host": "r", "port": 8100, "bucket": "b"}, ("r", 8100, "b", "default")),
    ("riak://h/u?bucket_type=strong", {"bucket": "b", "protocol": "http"},
     ("h", 8098, "u", "strong")),
    ("riak://h:8087", {"protocol": "http"}, ("h", 8087, "celery", "default")),
])
def test_url_and_riak_backend_settings_as_celery(url: str, conf: Any,
                                                  expected: tuple[Any, ...]) -> None:
    settings = Settings({"riak_backend_settings": conf} if conf is not None else {})
    config = RiakConfig.from_url(url, settings)
    assert (config.host, config.port, config.bucket, config.bucket_type) == expected


@pytest.mark.parametrize(("url", "conf", "message"), [
    ("riak://h:8087/b", None, "protocol-buffers port"),
    ("riak://h/b", {"protocol": "pbc"}, "HTTP API only"),
    ("riak://h/zażółć", None, "ASCII"),
    ("riak://u:p@h/b", None, "no credentials"),
    ("riak://h/b?nope=1", None, "Unknown riak:// URL option"),
    ("riak://h/b", {"nope": 1}, "Unknown riak_backend_settings"),
    ("riak://h/b", "not a dict", "grouped in a dict"),
    ("redis://h", None, "Not a riak"),
])
def test_bad_configurations_are_clear_errors(url: str, conf: Any, message: str) -> None:
    settings = Settings({"riak_backend_settings": conf} if conf is not None else {})
    with pytest.raises(ImproperlyConfigured, match=message):
        RiakConfig.from_url(url, settings)


def test_celery_57_has_no_riak_backend_ours_answers_the_alias(riak_url: str) -> None:
    """What Celery does today: its alias points at a module it no longer ships."""
    from celery.app.backends import BACKEND_ALIASES

    assert BACKEND_ALIASES["riak"] == "celery.backends.riak:RiakBackend"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("celery.backends.riak")
    from resultstore_riak.host import RiakBackend

    app = Celery("riak-load", set_as_current=False, backend=riak_url)
    assert type(app.backend) is RiakBackend


def test_resultstore_backends_lists_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    from resultstore.cli import main

    main(["backends", "--json"])
    row = {r["alias"]: r for r in json.loads(capsys.readouterr().out)}["riak"]
    assert (row["target"], row["distribution"], row["error"]) == (
        "resultstore_riak.host:RiakBackend", "resultstore-riak", None)
    assert row["store"] == "resultstore_riak.store:RiakStore"
    assert {"batch", "cleanup"} <= set(row["capabilities"])


# -- Celery 4's objects -----------------------------------------------------------------------
def test_celery4_objects_read_and_ours_are_the_same(backend: ResultBackend) -> None:
    """Celery 4 stored ``bucket.new(key, data=<serialized meta>)``: the riak client wrote
    the text as a JSON string with ``Content-Type: application/json``."""
    store = _store(backend)
    meta = _meta("c4", {"v": [1, "ż"]})
    store.client.put(store.path("celery-task-meta-c4"), content=json.dumps(json.dumps(meta)),
                     headers={"Content-Type": "application/json"}).raise_for_status()
    assert backend.get_task_meta("c4")["result"] == {"v": [1, "ż"]}
    backend.mark_as_done("o4", {"v": 2})
    raw = store.client.get(store.path("celery-task-meta-o4"))
    assert raw.headers["Content-Type"] == "application/json"
    stored = json.loads(raw.content)
    assert isinstance(stored, str) and json.loads(stored)["result"] == {"v": 2}
    assert "X-Riak-Meta-Resultstore-Expires" in raw.headers  # ours, ignored by Celery's client


def test_binary_payloads_are_octet_streams(riak_url: str) -> None:
    backend = resultstore.connect(riak_url, result_serializer="pickle",
                                  accept_content=["pickle", "json"],
                                  result_accept_content=["pickle", "json"])
    try:
        backend.mark_as_done("b1", b"\x00\xff")
        raw = _store(backend).client.get(_store(backend).path("celery-task-meta-b1"))
        assert raw.headers["Content-Type"] == "application/octet-stream"
        assert backend.get_task_meta("b1", cache=False)["result"] == b"\x00\xff"
    finally:
        backend.close()


def test_hostile_objects_are_decode_errors() -> None:
    assert decode(*encode(b"plain")) == b"plain"
    assert decode(b'{"a": 1}', "application/json") == b'{"a": 1}'
    with pytest.raises(DecodeError):
        decode(b"{not json", "application/json; charset=utf-8")


def test_siblings_resolve_to_the_last_written(riak_bucket: str) -> None:
    """``allow_mult=true``: blind writes make siblings; reads take the newest, as Celery's
    client did with ``last_written_resolver``; a write with the vector clock resolves them."""
    backend = resultstore.connect(riak_bucket + "?bucket_type=siblings")
    try:
        store = _store(backend)
        path = store.path("celery-task-meta-s1")
        for i in range(3):
            if i:
                time.sleep(1.05)  # Last-Modified has second resolution
            meta = _meta("s1", i)
            store.client.put(path, content=json.dumps(json.dumps(meta)), headers={
                "Content-Type": "application/json"}).raise_for_status()
        assert store.client.get(path).status_code == 300
        assert backend.get_task_meta("s1", cache=False)["result"] == 2  # the last written
        store.set("celery-task-meta-s1", backend.encode(_meta("s1", "one")), None)
        blob = store.read_blob("celery-task-meta-s1", need_version=True)
        assert blob is not None and store.client.get(path).status_code in (200, 300)
    finally:
        backend.close()


# -- conditional writes by bucket type ---------------------------------------------------------
def test_native_chords_only_on_strongly_consistent_types(riak_url: str, riak_bucket: str) -> None:
    strong = resultstore.connect(riak_url)
    default = resultstore.connect(riak_bucket)
    forced = resultstore.connect(riak_bucket, riak_backend_settings={"conditional_writes": True})
    try:
        assert {Capability.CHORD, Capability.GUARDED_SET} <= strong.capabilities
        assert not {Capability.CHORD, Capability.GUARDED_SET} & default.capabilities
        assert Capability.CHORD in forced.capabilities
    finally:
        for opened in (strong, default, forced):
            opened.close()


def test_strong_type_refuses_stale_writes_and_keeps_success(backend: ResultBackend) -> None:
    store = _store(backend)
    backend.mark_as_done("k1", "ok")
    backend.mark_as_failure("k1", ValueError("late"))
    assert backend.get_task_meta("k1", cache=False)["result"] == "ok"
    store.set("plain", b"1", None)
    store.set("plain", b"2", None)  # unconditional: the blind PUT is refused, vclock taken
    assert store.get("plain") == b"2"


def test_chords_do_not_list_keys(backend: ResultBackend) -> None:
    store = _store(backend)
    requests = Requests(store)
    gid = str(uuid.uuid4())
    backend.set_chord_size(gid, 2)
    seen = requests.count(backend.chord_part_return, gid, "a", 0, states.SUCCESS, "A")
    seen += requests.count(backend.chord_part_return, gid, "b", 1, states.SUCCESS, "B")
    assert "keys" not in " ".join(requests.seen) and seen.count("GET") <= 6


# -- round trips and errors ---------------------------------------------------------------------
def test_round_trips(backend: ResultBackend) -> None:
    store = _store(backend)
    requests = Requests(store)
    assert requests.count(backend.mark_as_done, "r1", 1) == ["PUT"]  # If-None-Match: *
    assert requests.count(store.set, "g1", b"x", None) == ["PUT"]  # Celery's blind PUT
    assert requests.count(backend.get_task_meta, "r1") == ["GET"]


def test_server_errors_are_transient_client_errors_are_not() -> None:
    assert is_transient(RiakHTTPError(503, "unavailable", "GET"))
    assert not is_transient(RiakHTTPError(400, "bad request", "GET"))
    assert is_transient(httpx.ConnectError("refused"))


def test_unreachable_node_is_a_clear_error() -> None:
    from resultstore.testing.servers import free_port

    with pytest.raises(resultstore.errors.BackendError, match="bucket type"):
        resultstore.connect(f"riak://127.0.0.1:{free_port()}/b")
    backend = resultstore.connect(f"riak://127.0.0.1:{free_port()}/b",
                                  riak_backend_settings={"conditional_writes": False})
    try:
        with pytest.raises(resultstore.errors.BackendGetMetaError) as info:
            backend.get_task_meta("t")
        assert isinstance(info.value.__cause__ or info.value.__context__, httpx.ConnectError)
    finally:
        backend.close()
