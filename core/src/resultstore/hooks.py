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
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .backend import ResultBackend
    from .transforms import Transform

__all__ = ["hookspec", "hookimpl", "HookSpecs", "plugin_manager", "has_listeners", "observing",
           "PROJECT", "ENTRY_POINT_GROUP"]

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
    def resultstore_stored(self, task_id: str, state: str, nbytes: int,
                           backend: ResultBackend) -> None:
        """A task meta was written (after a successful store); ``nbytes``: the payload's size."""

    @hookspec
    def resultstore_fetched(self, task_id: str, state: str, cached: bool,
                            backend: ResultBackend) -> None:
        """A task meta was read (``cached``: served from the LRU cache)."""

    @hookspec
    def resultstore_state_changed(self, task_id: str, old: str | None, new: str) -> None:
        """A waiter observed a task move from ``old`` to ``new`` state."""

    @hookspec
    def resultstore_retried(self, operation: str, attempt: int, delay: float,
                            exc: BaseException, backend: ResultBackend) -> None:
        """A store operation failed transiently and will be retried after ``delay`` s."""

    @hookspec
    def resultstore_failed(self, operation: str, exc: BaseException,
                           backend: ResultBackend) -> None:
        """A store operation failed for good (the error is raised to the caller)."""

    @hookspec
    def resultstore_operation(self, backend: ResultBackend, operation: str,
                              task_id: str | None) -> AbstractContextManager[Any] | None:
        """Return a context manager entered around one operation (or ``None``).

        ``operation`` is ``store_result``, ``get_task_meta``, ``get_many``, ``save_group``,
        ``restore_group``, ``chord_part_return``, ... (the retried/failed hooks' names) or
        ``wait`` (a waiter blocked on one task).  The manager is entered before the first
        attempt and exited after the last, with the exception if the operation failed, in the
        caller's thread and context: a tracing plugin parents its span to the caller's.  Called
        only while some plugin implements it (see :func:`has_listeners`).
        """

    @hookspec
    def resultstore_chord_completed(self, backend: ResultBackend, group_id: str,
                                    size: int) -> None:
        """The last of a chord's ``size`` header parts was recorded (once per chord)."""


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


def observing(manager: pluggy.PluginManager, backend: ResultBackend, operation: str,
              task_id: str | None = None) -> AbstractContextManager[Any]:
    """One context manager entering every ``resultstore_operation`` manager (usually one)."""
    managers = manager.hook.resultstore_operation(backend=backend, operation=operation,
                                                  task_id=task_id)
    if len(managers) == 1:
        return managers[0]  # type: ignore[no-any-return]
    return _all(managers)


@contextmanager
def _all(managers: list[AbstractContextManager[Any]]) -> Iterator[None]:
    with ExitStack() as stack:
        for cm in managers:
            stack.enter_context(cm)
        yield
