"""The Celery host class (entry points ``database`` and ``db``)."""

from __future__ import annotations

from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, celery_bases

from .store import DatabaseStore

__all__ = ["DatabaseBackend"]

_ORM = ("Celery's SQLAlchemy ORM models and sessions; resultstore uses SQLAlchemy Core "
        "tables on its own engine (backend.backend.store.engine and .tables)")


class DatabaseBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.database:DatabaseBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``db+postgresql://...``, ``db+sqlite:///...`` (any SQLAlchemy URL).

    With Celery installed it is an instance of Celery's ``DatabaseBackend`` too;
    Celery's public names resolve to resultstore's code
    (``tests/test_database_celery_surface.py``).
    """

    resultstore_store = DatabaseStore

    task_cls = CeleryDifference(_ORM)
    taskset_cls = CeleryDifference(_ORM)
    session_manager = CeleryDifference(_ORM)
    ResultSession = CeleryDifference(_ORM)

    @property
    def _config(self) -> Any:
        store = self.backend.store
        assert isinstance(store, DatabaseStore)
        return store.config

    @property
    def engine_options(self) -> dict[str, Any]:
        """The keyword arguments of ``create_engine`` (``database_engine_options``)."""
        return dict(self._config.engine_options)

    @property
    def short_lived_sessions(self) -> bool:
        return bool(self._config.short_lived_sessions)

    @property
    def extended_result(self) -> bool:
        return bool(self._config.extended)
