"""The rest of Celery's public backend surface, with Celery's semantics, on resultstore's code.

Host classes inherit Celery's backend classes when Celery is installed
(``isinstance(app.backend, celery.backends.base.BaseBackend)``, and of the class
a plugin replaces), but every public name Celery's class has must resolve to
resultstore's implementation, never to Celery's code:
:func:`resultstore.testing.celery_surface.check_celery_surface` checks it per
plugin.  :class:`SurfaceMixin` provides the names shared by Celery's
``Backend`` and ``BaseKeyValueStoreBackend`` (keys, raw ``get``/``set``/...,
``prepare_*``); a name a plugin deliberately does not provide is a
:class:`CeleryDifference`, which raises ``AttributeError`` with the reason (so
``hasattr`` is false, as before) and must be listed in the plugin README's
"Differences from Celery".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from ..backend import ResultBackend
from ..errors import NotSupported
from ..keys import CHORD_PREFIX, GROUP_PREFIX, TASK_PREFIX
from ..masking import Secret
from ..spec import Capability, KeyValueStore

__all__ = ["SurfaceMixin", "CeleryDifference", "StoreAttribute", "celery_bases"]


def celery_bases(*paths: str) -> tuple[type, ...]:
    """Celery's classes named ``module:Class``, or ``()`` when Celery is not installed.

    A host class lists them after resultstore's own bases, so that resultstore's
    methods come first in the MRO and Celery's classes only answer ``isinstance``.
    """
    import importlib

    bases: list[type] = []
    for path in paths:
        module, _, name = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except ImportError:  # Celery (or that backend's client library) is not installed
            continue
        if not any(issubclass(b, cls) for b in bases):
            bases.append(cls)
    return tuple(bases)


class CeleryDifference:
    """A public name of Celery's backend that this host deliberately does not provide."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        raise AttributeError(f"{type(obj).__name__}.{self.name} is not provided: {self.reason} "
                             f"(see 'Differences from Celery' in the plugin's README)")


class StoreAttribute:
    """A Celery attribute answered by the store: ``StoreAttribute("config.bucket")``.

    ``secret=True`` (a password): the value is a :class:`~resultstore.masking.Secret`,
    the string itself for code that needs it, ``**`` in any ``repr``.
    """

    def __init__(self, path: str, *, secret: bool = False) -> None:
        self.path = path
        self.secret = secret

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.backend.store
        for part in self.path.split("."):
            value = getattr(value, part)
        return Secret(value) if self.secret and isinstance(value, str) else value


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _key(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


class SurfaceMixin:
    """Celery's ``Backend``/``BaseKeyValueStoreBackend`` public names not covered elsewhere."""

    backend: ResultBackend
    app: Any

    #: Celery's default for ``Backend.retry_policy`` (retries are core's: see ``retry``).
    retry_policy: ClassVar[dict[str, Any]] = {
        "max_retries": 20, "interval_start": 0, "interval_step": 1, "interval_max": 1}
    #: Stores results compressed when ``result_compression`` is set (core's codec).
    supports_result_compression = True
    #: ``result_failure_expires`` applies (core gives FAILUREs their own TTL).
    supports_failure_expires = True

    # -- Celery's key/value API (BaseKeyValueStoreBackend) ------------------------------
    @staticmethod
    def key_t(value: str | bytes) -> Any:
        """Celery's ``ensure_bytes``: keys are bytes (a host whose Celery class has
        ``key_t = str``, as ``ArangoDbBackend``, overrides it: keys are then ``str``)."""
        return _bytes(value)

    @property
    def task_keyprefix(self) -> Any:
        return self.key_t(self.backend.keys.prefix + TASK_PREFIX)

    @property
    def group_keyprefix(self) -> Any:
        return self.key_t(self.backend.keys.prefix + GROUP_PREFIX)

    @property
    def chord_keyprefix(self) -> Any:
        return self.key_t(self.backend.keys.prefix + CHORD_PREFIX)

    @property
    def implements_incr(self) -> bool:
        """Chords counted with ``incr`` (Celery's meaning: not native chords, which Redis has)."""
        capabilities = self.backend.capabilities
        return Capability.INCR in capabilities and Capability.CHORD not in capabilities

    def get_key_for_task(self, task_id: Any, key: str | bytes = "") -> Any:
        """``celery-task-meta-<id><key>`` as ``key_t`` (``ValueError`` for an empty id)."""
        if not task_id:
            raise ValueError(f"task_id must not be empty. Got {task_id} instead.")
        return self.task_keyprefix + self.key_t(str(task_id)) + self.key_t(key)

    def get_key_for_group(self, group_id: Any, key: str | bytes = "") -> Any:
        if not group_id:
            raise ValueError(f"group_id must not be empty. Got {group_id} instead.")
        return self.group_keyprefix + self.key_t(str(group_id)) + self.key_t(key)

    def get_key_for_chord(self, group_id: Any, key: str | bytes = "") -> Any:
        if not group_id:
            raise ValueError(f"group_id must not be empty. Got {group_id} instead.")
        return self.chord_keyprefix + self.key_t(str(group_id)) + self.key_t(key)

    def _kv(self) -> KeyValueStore:
        store = self.backend.store
        if not isinstance(store, KeyValueStore):
            raise NotSupported(f"{type(store).__name__} is a record store: it has no raw keys "
                               f"(as Celery's {type(self).__name__} has no get/set)")
        return store

    def get(self, key: str | bytes) -> bytes | None:
        """The raw stored value of ``key`` (an encoded meta), ``None`` if absent."""
        return self._kv().get(_key(key))

    def mget(self, keys: Sequence[str | bytes]) -> list[bytes | None]:
        return self._kv().mget([_key(k) for k in keys])

    def set(self, key: str | bytes, value: str | bytes) -> None:
        """Store ``value`` under ``key`` with ``result_expires`` (published where the store does)."""
        self._kv().set(_key(key), _bytes(value), self.backend.expires)

    def delete(self, key: str | bytes) -> None:
        self._kv().delete(_key(key))

    def incr(self, key: str | bytes) -> int:
        """Atomically add 1 (``NotImplementedError`` where the store cannot, as Celery)."""
        if Capability.INCR not in self.backend.capabilities:
            raise NotSupported("Does not implement incr")
        return self._kv().incr(_key(key), None)

    def expire(self, key: str | bytes, value: float) -> None:
        """Celery's key/value backends ignore it (Redis overrides it); so does core."""

    # -- Celery's Backend helpers -----------------------------------------------------------
    @property
    def chord_expires(self) -> float | None:
        return self.backend.settings.chord_expires

    def prepare_value(self, result: Any) -> Any:
        """A result object becomes its ``as_tuple()`` (except with pickle), as Celery."""
        if self.backend.codec.serializer.name != "pickle" and hasattr(result, "as_tuple"):
            return result.as_tuple()
        return result

    def prepare_expires(self, value: Any, type: Any = None) -> Any:  # Celery's names
        if value is None:
            value = self.backend.settings["result_expires"]
        if isinstance(value, dt.timedelta):
            value = value.total_seconds()
        if value is not None and type:
            return type(value)
        return value

    def prepare_persistent(self, enabled: bool | None = None) -> bool:
        if enabled is not None:
            return enabled
        persistent = self.backend.settings.get("result_persistent")
        return True if persistent is None else bool(persistent)

    def prepare_compression(self, compression: str | None) -> str | None:
        """``None`` or the name (``ImproperlyConfigured`` if unknown), as Celery."""
        if not compression:
            return None
        from ..codec.compression import resolve_compression

        resolve_compression(compression)
        return compression

    def on_backend_retryable_error(self, exc: BaseException) -> None:
        """Celery's hook before retrying a recoverable error: nothing, as Celery's base."""
        return None
