"""OpenTelemetry overhead: store/get ops/s without the plugin, with it on OpenTelemetry's no-op
API, and with the SDK recording every span and metric, same run, memory:// and redis://.

``python -m bench.otel_overhead [--quick]`` (needs resultstore-opentelemetry, opentelemetry-sdk,
resultstore-redis and redis-server).  Not run in CI.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import resultstore
from resultstore.hooks import plugin_manager
from resultstore.testing.servers import ServerProcess
from resultstore_opentelemetry import OpenTelemetryHooks
from resultstore_opentelemetry.plugin import hooks as default_hooks

from .harness import ops_per_second


class Drop(SpanExporter):
    """Exports nowhere (the batch processor's work is still done)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def sdk_hooks() -> OpenTelemetryHooks:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    return OpenTelemetryHooks(tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))


def _rates(backend: resultstore.ResultBackend, n: int) -> tuple[float, float]:
    prefix = uuid.uuid4().hex[:8]
    store = ops_per_second(lambda i: backend.mark_as_done(f"{prefix}-{i}", i), n)
    get = ops_per_second(lambda i: backend.get_task_meta(f"{prefix}-{i}", cache=False), n)
    backend.close()
    return store, get


def measure(url: str, n: int) -> dict[str, tuple[float, float]]:
    """``mode -> (store ops/s, get ops/s)`` for modes off / api / sdk on ``url``."""
    manager = plugin_manager()
    sdk = sdk_hooks()
    modes: dict[str, Callable[[], None]] = {
        "off": lambda: None,
        "api": lambda: manager.register(default_hooks),
        "sdk": lambda: manager.register(sdk),
    }
    results: dict[str, tuple[float, float]] = {}
    for mode, setup in modes.items():
        for plugin in (default_hooks, sdk):
            if manager.is_registered(plugin):
                manager.unregister(plugin)
        setup()
        results[mode] = _rates(resultstore.connect(url), n)
    manager.register(default_hooks)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otel_overhead")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 2000 if args.quick else 20000
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-otel-"))
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]
    with ServerProcess(argv, workdir) as server:
        runs = {"memory://": measure(f"memory://{uuid.uuid4().hex}", n),
                "redis://": measure(f"redis://127.0.0.1:{server.port}/0", n)}
    print(f"{'store':10} {'mode':5} {'store ops/s':>12} {'vs off':>7} {'get ops/s':>12} {'vs off':>7}")
    for url, results in runs.items():
        base_store, base_get = results["off"]
        for mode, (store, get) in results.items():
            print(f"{url:10} {mode:5} {store:12,.0f} {store / base_store:7.2f} "
                  f"{get:12,.0f} {get / base_get:7.2f}")


if __name__ == "__main__":
    main()
