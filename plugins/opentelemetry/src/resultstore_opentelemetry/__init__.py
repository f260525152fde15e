"""OpenTelemetry signals for resultstore (spans and metrics from core's pluggy hooks).

Installing the distribution is enough: its ``resultstore.hooks`` entry point registers
:data:`resultstore_opentelemetry.plugin.hooks`, which reports to the global tracer and meter
providers.  Register an :class:`OpenTelemetryHooks` of your own to use other providers.
"""

from __future__ import annotations

from .attributes import backend_attributes, db_system
from .plugin import OpenTelemetryHooks

__all__ = ["OpenTelemetryHooks", "backend_attributes", "db_system"]
