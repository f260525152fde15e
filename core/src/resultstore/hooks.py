"""Hook specifications (pluggy project ``resultstore``, entry-point group ``resultstore.hooks``).

A plugin module registers implementations with :data:`hookimpl`::

    from resultstore.hooks import hookimpl

    @hookimpl
    def resultstore_stored(task_id, state, nbytes):
        STORED.labels(state).inc()

and declares itself in its distribution's metadata::

    [project.entry-points."resultstore.hooks"]
    metrics = "my_package.metrics"
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .transforms import Transform

__all__ = ["hookspec", "hookimpl", "HookSpecs", "plugin_manager", "PROJECT", "ENTRY_POINT_GROUP"]

PROJECT = "resultstore"
ENTRY_POINT_GROUP = "resultstore.hooks"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """Every hook resultstore calls."""

    @hookspec
    def resultstore_transforms(self) -> list[Transform]:  # type: ignore[empty-body]
        """Offer payload transforms (compression, encryption, signing, offload).

        Called once per plugin manager.  Return :class:`~resultstore.transforms.Transform`
        instances; they are used only when named in the ``resultstore_transforms``
        setting, in that order.
        """

    @hookspec
    def resultstore_stored(self, task_id: str, state: str, nbytes: int) -> None:
        """A task meta was written (after a successful store)."""

    @hookspec
    def resultstore_fetched(self, task_id: str, state: str, cached: bool) -> None:
        """A task meta was read (``cached``: served from the LRU cache)."""

    @hookspec
    def resultstore_state_changed(self, task_id: str, old: str | None, new: str) -> None:
        """A waiter observed a task move from ``old`` to ``new`` state."""

    @hookspec
    def resultstore_retried(self, operation: str, attempt: int, delay: float,
                            exc: BaseException) -> None:
        """A store operation failed transiently and will be retried after ``delay`` s."""

    @hookspec
    def resultstore_failed(self, operation: str, exc: BaseException) -> None:
        """A store operation failed for good (the error is raised to the caller)."""


_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded once."""
    global _manager
    with _lock:
        if _manager is None:
            manager = pluggy.PluginManager(PROJECT)
            manager.add_hookspecs(HookSpecs)
            from . import transforms

            manager.register(transforms, name="resultstore.transforms")
            manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            _manager = manager
        return _manager


def has_listeners(manager: pluggy.PluginManager, name: str) -> bool:
    """True when some plugin implements hook ``name`` (skip the call otherwise)."""
    caller: Any = getattr(manager.hook, name)
    return bool(caller.get_hookimpls())
