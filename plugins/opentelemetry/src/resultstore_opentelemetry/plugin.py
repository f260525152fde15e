"""The hook implementations: core's events as OpenTelemetry spans and metrics.

Spans (parented to the caller's current context, so a Celery task's span contains them):

* one CLIENT span per store operation, named after it (``store_result``, ``get_task_meta``,
  ``get_many``, ``save_group``, ``chord_part_return`` ...), covering every retry;
* one INTERNAL span ``wait`` per waiter blocked on a task.

Metrics (instruments of meter ``resultstore_opentelemetry``):

* ``db.client.operation.duration`` (histogram, s) per ``db.system.name``,
  ``resultstore.backend.scheme``, ``db.operation.name`` (and ``error.type`` on failure);
* ``resultstore.wait.duration`` (histogram, s), ``resultstore.waiters.active`` (up-down counter);
* ``resultstore.payload.size`` (histogram, By) of stored metas, per ``resultstore.task.state``;
* ``resultstore.retries`` and ``resultstore.failures`` (counters, per operation and error.type);
* ``resultstore.chords.completed`` (counter).
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from resultstore.hooks import hookimpl

from .attributes import backend_attributes

if TYPE_CHECKING:
    from resultstore import ResultBackend

__all__ = ["OpenTelemetryHooks", "hooks"]

SCOPE = "resultstore_opentelemetry"
VERSION = "0.1.0"
#: Bucket boundaries (s) of the duration histograms: 0.1 ms .. 60 s.
DURATION_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 30.0, 60.0)


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class _Operation:
    """Context manager of one observed operation: a span, a duration, active waiters."""

    __slots__ = ("attrs", "current", "hooks", "name", "span", "start", "task_id", "token")

    def __init__(self, hooks: OpenTelemetryHooks, attrs: dict[str, Any], name: str,
                 task_id: str | None) -> None:
        self.hooks, self.attrs, self.name, self.task_id = hooks, attrs, name, task_id

    def __enter__(self) -> None:
        wait = self.name == "wait"
        attributes = dict(self.attrs)
        if self.task_id is not None:
            attributes["resultstore.task.id"] = self.task_id
        self.span = self.hooks.tracer.start_span(
            self.name, kind=SpanKind.INTERNAL if wait else SpanKind.CLIENT, attributes=attributes)
        # a non-recording span (no SDK configured) is not made current: nothing could use it
        self.token = (otel_context.attach(trace.set_span_in_context(self.span))
                      if self.span.is_recording() else None)
        self.current: Token[Span | None] = self.hooks.current.set(self.span)
        if wait:
            self.hooks.waiters.add(1, self.attrs)
        self.start = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        elapsed = time.perf_counter() - self.start
        if self.token is not None:
            otel_context.detach(self.token)
        self.hooks.current.reset(self.current)
        attrs = self.attrs
        if exc is not None:
            attrs = {**attrs, "error.type": _error_type(exc)}
            self.span.set_attribute("error.type", attrs["error.type"])
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self.span.end()
        if self.name == "wait":
            self.hooks.waiters.add(-1, self.attrs)
            self.hooks.wait_duration.record(elapsed, attrs)
        else:
            self.hooks.duration.record(elapsed, attrs)


class OpenTelemetryHooks:
    """resultstore hook implementations reporting to one tracer and one meter provider.

    ``None`` providers mean the global ones (``opentelemetry.trace.set_tracer_provider``,
    ``opentelemetry.metrics.set_meter_provider``), looked up through OpenTelemetry's proxies
    so providers configured after import are used.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None,
                 meter_provider: metrics.MeterProvider | None = None) -> None:
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider)
        #: The span of this instance's innermost operation (retry events go there).
        self.current: ContextVar[Span | None] = ContextVar(f"resultstore_otel_{id(self)}",
                                                           default=None)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider)
        self.duration = meter.create_histogram(
            "db.client.operation.duration", unit="s",
            description="Duration of result store operations (every retry included).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.wait_duration = meter.create_histogram(
            "resultstore.wait.duration", unit="s",
            description="Time a waiter blocked until its task was ready (or gave up).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.waiters = meter.create_up_down_counter(
            "resultstore.waiters.active", unit="{waiter}",
            description="Waiters currently blocked on a task result.")
        self.payload = meter.create_histogram(
            "resultstore.payload.size", unit="By", description="Size of stored task metas.")
        self.retries = meter.create_counter(
            "resultstore.retries", unit="{retry}",
            description="Store operations that failed transiently and were retried.")
        self.failures = meter.create_counter(
            "resultstore.failures", unit="{failure}",
            description="Store operations that failed for good (raised to the caller).")
        self.chords = meter.create_counter(
            "resultstore.chords.completed", unit="{chord}",
            description="Chords whose last header part was recorded (natively counted).")

    @hookimpl
    def resultstore_operation(self, backend: ResultBackend, operation: str,
                              task_id: str | None) -> _Operation:
        attrs = {**backend_attributes(backend), "db.operation.name": operation}
        return _Operation(self, attrs, operation, task_id)

    @hookimpl
    def resultstore_stored(self, state: str, nbytes: int, backend: ResultBackend) -> None:
        self.payload.record(nbytes, {**backend_attributes(backend), "resultstore.task.state": state})

    @hookimpl
    def resultstore_retried(self, operation: str, attempt: int, delay: float,
                            exc: BaseException, backend: ResultBackend) -> None:
        error = _error_type(exc)
        self.retries.add(1, {**backend_attributes(backend), "db.operation.name": operation,
                             "error.type": error})
        span = self.current.get()
        if span is not None and span.is_recording():
            span.add_event("retry", {"resultstore.retry.attempt": attempt,
                                     "resultstore.retry.delay": delay, "error.type": error})

    @hookimpl
    def resultstore_failed(self, operation: str, exc: BaseException,
                           backend: ResultBackend) -> None:
        self.failures.add(1, {**backend_attributes(backend), "db.operation.name": operation,
                              "error.type": _error_type(exc)})

    @hookimpl
    def resultstore_chord_completed(self, backend: ResultBackend, group_id: str,
                                    size: int) -> None:
        self.chords.add(1, backend_attributes(backend))


#: The instance the ``resultstore.hooks`` entry point registers (global providers).
hooks = OpenTelemetryHooks()
