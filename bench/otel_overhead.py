"""OpenTelemetry overhead: store/get ops/s without the plugin, with it on OpenTelemetry's no-op
API, and with the SDK recording every span and metric, same run, memory:// and redis://.

``python -m bench.otel_overhead [--quick]`` (needs resultstore-opentelemetry, opentelemetry-sdk,
resultstore-redis and redis-server).  Not run in CI.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Sequence
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
    store = ops_per_second(lambda i: backend.mark_as_done(f"{prefix}-{i}", i), n, repeat=1)
    get = ops_per_second(lambda i: backend.get_task_meta(f"{prefix}-{i}", cache=False), n,
                         repeat=1)
    return store, get


def _only(*plugins: object) -> None:
    """Leave exactly ``plugins`` of the two registered."""
    manager = plugin_manager()
    for plugin in (default_hooks, *plugins):
        if manager.is_registered(plugin):
            manager.unregister(plugin)
    for plugin in plugins:
        manager.register(plugin)


def measure(url: str, n: int, rounds: int) -> dict[str, tuple[float, float]]:
    """``mode -> (store ops/s, get ops/s)``, best of ``rounds`` interleaved rounds.

    Listeners are looked up when a backend is built: ``off`` is built with none registered;
    ``api`` and ``sdk`` are measured with only their hooks registered.
    """
    sdk = sdk_hooks()
    _only()
    backends = {"off": resultstore.connect(url)}
    _only(default_hooks)
    backends["api"] = resultstore.connect(url)
    backends["sdk"] = resultstore.connect(url)
    setups = {"off": lambda: _only(), "api": lambda: _only(default_hooks),
              "sdk": lambda: _only(sdk)}
    best: dict[str, tuple[float, float]] = {mode: (0.0, 0.0) for mode in backends}
    for _ in range(rounds):
        for mode, backend in backends.items():
            setups[mode]()
            store, get = _rates(backend, n)
            best[mode] = (max(best[mode][0], store), max(best[mode][1], get))
    _only(default_hooks)
    for backend in backends.values():
        backend.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otel_overhead")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (2000, 2) if args.quick else (5000, 5)
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-otel-"))
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]
    with ServerProcess(argv, workdir) as server:
        runs = {"memory://": measure(f"memory://{uuid.uuid4().hex}", n, rounds),
                "redis://": measure(f"redis://127.0.0.1:{server.port}/0", n, rounds)}
    print("| store | mode | store ops/s | vs off | added µs/op | get ops/s | vs off | added µs/op |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for url, results in runs.items():
        base_store, base_get = results["off"]
        for mode, (store, get) in results.items():
            print(f"| `{url}` | {mode} | {store:,.0f} | {store / base_store:.2f} | "
                  f"{(1 / store - 1 / base_store) * 1e6:.0f} | {get:,.0f} | {get / base_get:.2f} | "
                  f"{(1 / get - 1 / base_get) * 1e6:.0f} |")


if __name__ == "__main__":
    main()
