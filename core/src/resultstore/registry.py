"""Which store class serves a URL: override_backends > entry points > built-ins.

Plugins register in the ``celery.result_backends`` entry-point group (the
same group Celery reads), pointing at their Celery host class; that class
names its store in ``resultstore_store``.  Entry points that lead elsewhere
(another project's Celery backend) are listed as *foreign* and never crash
discovery.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BackendConflict, ImproperlyConfigured, PluginImportError, UnknownBackend
from .spec import KeyValueStore, MetaStore

__all__ = ["ENTRY_POINT_GROUP", "BackendEntry", "Registry", "split_url", "store_class_of",
           "import_object", "default_registry"]

ENTRY_POINT_GROUP = "celery.result_backends"

BUILTINS = {
    "memory": "resultstore.stores.memory:MemoryStore",
    "disabled": "resultstore.stores.disabled:DisabledStore",
}


def import_object(path: str) -> Any:
    """Import ``package.module:Name`` (or ``package.module.Name``)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ImproperlyConfigured(f"{path!r} is not a 'package.module:Class' path.")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def store_class_of(obj: Any) -> type[KeyValueStore] | type[MetaStore] | None:
    """The store class behind ``obj`` (a store class or a host class naming one)."""
    if isinstance(obj, type) and issubclass(obj, (KeyValueStore, MetaStore)):
        return obj
    inner = getattr(obj, "resultstore_store", None)
    if isinstance(inner, type) and issubclass(inner, (KeyValueStore, MetaStore)):
        return inner
    return None


def split_url(url: str) -> tuple[str, str]:
    """``(alias, url_for_the_store)`` as Celery's ``by_url``.

    ``cache+memcached://h/`` -> ``('cache', 'memcached://h/')``; ``redis://h`` -> ``('redis', 'redis://h')``.
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ImproperlyConfigured(
            f"Result backend URL must look like 'scheme://...' or 'package.module:Class', "
            f"got {url.split('@')[-1]!r}."
        )
    if "+" in scheme:
        alias, rest = url.split("+", 1)
        return alias, rest
    return scheme, url


@dataclass(frozen=True)
class BackendEntry:
    """One way to serve an alias: a built-in, an override, or an entry point."""

    alias: str
    target: str
    origin: str  # "builtin" | "override" | "entry-point"
    distribution: str = "resultstore"
    version: str = ""

    def load(self) -> Any:
        try:
            return import_object(self.target)
        except Exception as exc:
            raise PluginImportError(self.alias, self.target, self.distribution, exc) from exc

    def load_store(self) -> type[KeyValueStore] | type[MetaStore]:
        obj = self.load()
        store = store_class_of(obj)
        if store is None:
            raise ImproperlyConfigured(
                f"Backend {self.alias!r} ({self.target}, from {self.distribution}) is not a "
                f"resultstore backend (a foreign Celery backend?). Celery can use it; "
                f"resultstore cannot."
            )
        return store


class Registry:
    """Discovered backends; entry points are read once, imported only on use."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._entry_points: dict[str, list[BackendEntry]] | None = None

    def refresh(self) -> None:
        """Forget the cached entry-point list (after installing a plugin)."""
        self._entry_points = None

    def entry_points(self) -> dict[str, list[BackendEntry]]:
        """Alias -> entries from distinct distributions claiming it."""
        if self._entry_points is None:
            found: dict[str, dict[tuple[str, str], BackendEntry]] = {}
            for ep in md.entry_points(group=self.group):
                dist = ep.dist
                name = dist.metadata["Name"] if dist is not None else "unknown"
                version = dist.version if dist is not None else ""
                entry = BackendEntry(ep.name, ep.value, "entry-point", name, version)
                found.setdefault(ep.name, {})[(_canonical(name), ep.value)] = entry
            self._entry_points = {alias: list(v.values()) for alias, v in found.items()}
        return self._entry_points

    def entries(self, overrides: Mapping[str, Any] | None = None) -> dict[str, list[BackendEntry]]:
        """Every alias with its candidates, most preferred first."""
        table: dict[str, list[BackendEntry]] = {}
        for alias, target in (overrides or {}).items():
            text = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            table[alias] = [BackendEntry(alias, text, "override")]
        for alias, eps in self.entry_points().items():
            table.setdefault(alias, []).extend(eps)
        for alias, target in BUILTINS.items():
            table.setdefault(alias, []).append(BackendEntry(alias, target, "builtin"))
        return table

    def entry_for(self, alias: str, overrides: Mapping[str, Any] | None = None) -> BackendEntry:
        """The entry that serves ``alias``; raises UnknownBackend / BackendConflict."""
        candidates = self.entries(overrides).get(alias)
        if not candidates:
            raise UnknownBackend(alias, sorted(self.entries(overrides)))
        first = candidates[0]
        if first.origin == "entry-point":
            rivals = [e for e in candidates if e.origin == "entry-point"]
            if len({_canonical(e.distribution) for e in rivals}) > 1:
                raise BackendConflict(alias, [f"{e.distribution} ({e.target})" for e in rivals])
        return first

    def resolve(self, url: str, overrides: Mapping[str, Any] | None = None
                ) -> tuple[type[KeyValueStore] | type[MetaStore], str]:
        """``(store_class, url_for_the_store)`` for a URL or a ``module:Class`` path."""
        overrides = dict(overrides or {})
        if "://" not in url:
            if url in overrides or url in self.entries(overrides):
                return self.entry_for(url, overrides).load_store(), f"{url}://"
            target = overrides.get(url, url)
            try:
                obj = target if not isinstance(target, str) else import_object(target)
            except (ImportError, AttributeError) as exc:
                raise ImproperlyConfigured(
                    f"{url!r} is neither a URL (scheme://...) nor an importable "
                    f"'package.module:Class' ({type(exc).__name__}: {exc}).") from None
            store = store_class_of(obj)
            if store is None:
                raise ImproperlyConfigured(f"{url!r} is not a resultstore store or backend class.")
            return store, f"{url}://"
        alias, store_url = split_url(url)
        override = overrides.get(alias)
        if override is not None and not isinstance(override, str):
            store = store_class_of(override)
            if store is None:
                raise ImproperlyConfigured(f"override_backends[{alias!r}] is not a resultstore class.")
            return store, store_url
        return self.entry_for(alias, overrides).load_store(), store_url


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


default_registry = Registry()
