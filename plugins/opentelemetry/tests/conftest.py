"""Real OpenTelemetry SDK providers with in-memory exporters, registered for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_support import Telemetry

from resultstore.hooks import plugin_manager
from resultstore_opentelemetry import OpenTelemetryHooks


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    hooks = OpenTelemetryHooks(tracer_provider, meter_provider)
    plugin_manager().register(hooks)
    try:
        yield Telemetry(tracer_provider, exporter, reader)
    finally:
        plugin_manager().unregister(hooks)
        meter_provider.shutdown()
        tracer_provider.shutdown()
