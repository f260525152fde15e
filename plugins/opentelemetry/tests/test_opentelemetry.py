"""Spans and metrics through the real OpenTelemetry SDK (in-memory exporters)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Sequence

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_support import Telemetry

import resultstore
from resultstore import KeyValueStore, ResultBackend, Settings, states
from resultstore.errors import BackendStoreError
from resultstore.hooks import plugin_manager
from resultstore.masking import mask_url


def fresh() -> ResultBackend:
    return resultstore.connect(f"memory://{uuid.uuid4().hex}")


def test_entry_point_registers_the_default_hooks() -> None:
    from resultstore_opentelemetry.plugin import hooks

    assert plugin_manager().is_registered(hooks)


def test_store_and_fetch_spans_are_children_of_the_current_span(telemetry: Telemetry) -> None:
    backend = fresh()
    tracer = telemetry.tracer_provider.get_tracer("celery-like")
    with tracer.start_as_current_span("run/add") as task_span:
        backend.mark_as_done("t1", 42)
        assert backend.get_task_meta("t1", cache=False)["result"] == 42
    spans = {s.name: s for s in telemetry.spans()}
    assert set(spans) == {"store_result", "get_task_meta", "run/add"}
    for name in ("store_result", "get_task_meta"):
        span = spans[name]
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == task_span.get_span_context().span_id
        assert span.context.trace_id == task_span.get_span_context().trace_id
        assert span.attributes is not None
        assert span.attributes["db.operation.name"] == name
        assert span.attributes["db.system.name"] == "memory"
        assert span.attributes["resultstore.backend.scheme"] == "memory"
        assert span.attributes["resultstore.task.id"] == "t1"


def test_operation_duration_and_payload_metrics(telemetry: Telemetry) -> None:
    backend = fresh()
    for i in range(3):
        backend.mark_as_done(f"t{i}", "x" * 100)
    backend.get_many(["t0", "t1", "t2"], cache=False)
    durations = {a["db.operation.name"]: p for a, p in telemetry.points("db.client.operation.duration")}
    assert durations["store_result"].count == 3
    assert durations["get_many"].count == 1
    assert durations["store_result"].sum > 0
    (attrs, payload), = telemetry.points("resultstore.payload.size")
    assert attrs == {"db.system.name": "memory", "resultstore.backend.scheme": "memory",
                     "resultstore.task.state": "SUCCESS"}
    assert payload.count == 3 and payload.min > 100


def test_wait_span_and_active_waiters(telemetry: Telemetry) -> None:
    backend = fresh()
    from resultstore.waiting import waiter

    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(waiter(backend).wait("w1", timeout=10)))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        active = [p.value for _, p in telemetry.points("resultstore.waiters.active")]
        if active == [1]:
            break
        time.sleep(0.01)
    assert active == [1]
    backend.mark_as_done("w1", 7)
    thread.join(10)
    assert got and got[0]["result"] == 7  # type: ignore[index]
    assert [p.value for _, p in telemetry.points("resultstore.waiters.active")] == [0]
    (wait,) = [s for s in telemetry.spans() if s.name == "wait"]
    assert wait.kind is SpanKind.INTERNAL and wait.attributes["resultstore.task.id"] == "w1"
    (_, waited), = telemetry.points("resultstore.wait.duration")
    assert waited.count == 1


def test_asyncio_reads_are_spans_of_the_current_task(telemetry: Telemetry) -> None:
    backend = fresh()
    backend.mark_as_done("a1", 1)
    tracer = telemetry.tracer_provider.get_tracer("test")

    async def main() -> None:
        with tracer.start_as_current_span("outer") as outer:
            assert (await backend.aget_task_meta("a1", cache=False))["result"] == 1
            await backend.aget_many(["a1", "missing"], cache=False)
        return outer.get_span_context().span_id

    outer_id = asyncio.run(main())
    reads = [s for s in telemetry.spans() if s.name in ("get_task_meta", "get_many")]
    assert len(reads) == 2
    assert all(s.parent is not None and s.parent.span_id == outer_id for s in reads)


def test_chord_completion_counted_once(telemetry: Telemetry) -> None:
    backend = fresh()
    backend.set_chord_size("g1", 3)
    for i in range(3):
        backend.chord_part_return("g1", f"p{i}", i, states.SUCCESS, i)
    backend.chord_part_return("g1", "p2", 2, states.SUCCESS, 2)  # redelivered part
    (_, chords), = telemetry.points("resultstore.chords.completed")
    assert chords.value == 1


class Flaky(KeyValueStore):
    """Fails the first ``failures`` writes with a transient error."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.data: dict[str, bytes] = {}

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> Flaky:
        return cls(0)

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, ConnectionError)

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self.data.get(k) for k in keys]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("server went away")
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def as_uri(self, include_password: bool = False) -> str:
        return "flaky://h:1/"


def test_retries_are_counted_and_span_events(telemetry: Telemetry) -> None:
    backend = ResultBackend(Flaky(2), Settings(result_backend_always_retry=True,
                                                result_backend_base_sleep_between_retries_ms=1,
                                                result_backend_max_sleep_between_retries_ms=2))
    backend.mark_as_done("r1", 1)
    (attrs, retries), = telemetry.points("resultstore.retries")
    assert retries.value == 2
    assert attrs["error.type"] == "ConnectionError"
    assert attrs["db.operation.name"] == "store_result"
    (span,) = [s for s in telemetry.spans() if s.name == "store_result"]
    assert [e.name for e in span.events] == ["retry", "retry"]
    assert span.status.status_code is StatusCode.UNSET


class Down(Flaky):
    """A store whose server is gone, configured with a password in its URL."""

    URL = "redis://alice:s3cret-pw@127.0.0.1:6390/0"

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        raise ConnectionRefusedError("connection refused")

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        return False

    def as_uri(self, include_password: bool = False) -> str:
        return self.URL if include_password else mask_url(self.URL)


def test_failures_carry_error_type_and_never_credentials(telemetry: Telemetry) -> None:
    backend = ResultBackend(Down(0), url=Down.URL)
    with pytest.raises(BackendStoreError):
        backend.mark_as_done("f1", 1)
    (span,) = [s for s in telemetry.spans() if s.name == "store_result"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "resultstore.errors.BackendStoreError"
    assert span.attributes["db.system.name"] == "redis"
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == 6390
    (attrs, failed), = telemetry.points("resultstore.failures")
    assert failed.value == 1 and attrs["error.type"] == "resultstore.errors.BackendStoreError"
    (attrs, _), = telemetry.points("db.client.operation.duration")
    assert attrs["error.type"] == "resultstore.errors.BackendStoreError"
    exported = json.dumps([json.loads(s.to_json()) for s in telemetry.spans()])
    exported += repr(telemetry.reader.get_metrics_data())
    assert "s3cret" not in exported and "alice" not in exported
