"""Settings, by Celery's setting names and with Celery's defaults.

``Settings`` is built from keyword options, a mapping (e.g. a Celery
``app.conf``) or both; unknown keys are kept for plugins (``redis_*``, ``s3_*``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import ImproperlyConfigured
from .inflate import DEFAULT_MAX_PAYLOAD_SIZE

__all__ = ["Settings", "DEFAULTS", "EXPLICIT_NONE"]

#: Every core setting with its Celery default (``celery/app/defaults.py``).
DEFAULTS: dict[str, Any] = {
    "result_serializer": "json",
    "result_accept_content": None,
    "accept_content": ["json"],
    "result_compression": None,
    "result_cache_max": -1,
    "result_expires": 86400,
    "result_failure_expires": None,
    "result_chord_expires": None,
    "result_extended": False,
    "result_persistent": None,
    "result_backend_thread_safe": False,
    "result_backend_always_retry": False,
    "result_backend_max_retries": math.inf,
    "result_backend_base_sleep_between_retries_ms": 10,
    "result_backend_max_sleep_between_retries_ms": 10000,
    "result_chord_join_timeout": 3.0,
    "result_chord_retry_interval": 1.0,
    "result_chord_ordered": True,
    "result_backend_transport_options": {},
    "override_backends": {},
    "timezone": None,
    # resultstore extras (no Celery equivalent)
    "resultstore_transforms": [],
    "resultstore_signing_key": None,
    "resultstore_encryption_keys": None,
    "resultstore_offload_url": None,
    "resultstore_offload_threshold": 256 * 1024,
    "resultstore_max_payload_size": DEFAULT_MAX_PAYLOAD_SIZE,
    "resultstore_poll_interval_max": 1.0,
}

#: Settings whose explicit ``None`` is a value, not "use the default": Celery's
#: ``result_expires=None`` means results never expire (its default is one day).
EXPLICIT_NONE = frozenset({"result_expires"})


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ImproperlyConfigured(f"{name} must be seconds or a timedelta, got {value!r}")


class Settings(Mapping[str, Any]):
    """Read-only view of settings with Celery's defaults filled in.

    >>> Settings({"result_expires": 60}).expires
    60.0
    >>> Settings().serializer
    'json'
    """

    def __init__(self, source: Mapping[str, Any] | None = None, **options: Any) -> None:
        merged: dict[str, Any] = {}
        if source is not None:
            for key in _keys_of(source):
                merged[key] = source[key]
        merged.update(options)
        self._data = merged

    def __getitem__(self, key: str) -> Any:
        if key in self._data and (self._data[key] is not None or key in EXPLICIT_NONE):
            return self._data[key]
        if key in DEFAULTS:
            return DEFAULTS[key]
        if key in self._data:
            return None
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter({**DEFAULTS, **self._data})

    def __len__(self) -> int:
        return len({**DEFAULTS, **self._data})

    def replace(self, **options: Any) -> Settings:
        """Return a copy with ``options`` overriding."""
        return Settings(self._data, **options)

    # typed accessors for the settings core itself reads
    @property
    def serializer(self) -> str:
        return str(self["result_serializer"])

    @property
    def accept(self) -> list[str]:
        accept = self["result_accept_content"] or self["accept_content"]
        return [str(name) for name in accept]

    @property
    def expires(self) -> float | None:
        """``result_expires`` in seconds, ``None`` for never (``None`` or ``0`` given).

        >>> Settings(result_expires=None).expires is None
        True
        """
        value = _seconds(self["result_expires"], "result_expires")
        return value or None

    @property
    def failure_expires(self) -> float | None:
        value = _seconds(self.get("result_failure_expires"), "result_failure_expires")
        return value if value is not None else self.expires

    @property
    def chord_expires(self) -> float | None:
        value = _seconds(self.get("result_chord_expires"), "result_chord_expires")
        return value if value is not None else self.expires

    @property
    def max_payload_size(self) -> int:
        """``resultstore_max_payload_size`` in bytes (``0``: no bound)."""
        value = self["resultstore_max_payload_size"]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ImproperlyConfigured(
                f"resultstore_max_payload_size must be a byte count >= 0, got {value!r}")
        return value

    @property
    def transport_options(self) -> dict[str, Any]:
        return dict(self["result_backend_transport_options"] or {})

    @property
    def global_keyprefix(self) -> str:
        prefix = str(self.transport_options.get("global_keyprefix") or "")
        if prefix and prefix[-1] not in ":_-.":
            prefix += "_"
        return prefix

    @property
    def chord_ordered(self) -> bool:
        return bool(self.transport_options.get("result_chord_ordered",
                                               self["result_chord_ordered"]))


def _keys_of(source: Mapping[str, Any]) -> Iterator[str]:
    # Celery's app.conf is a ChainMap-like object whose iteration yields every
    # known setting (lower-case); plain mappings just iterate.
    for key in source:
        if isinstance(key, str):
            yield key
