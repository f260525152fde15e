"""Celery's public ``DatabaseBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.database import DatabaseBackend as CeleryDatabaseBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_database.host import DatabaseBackend


def test_database_surface(sqlite_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    app.conf.update(result_extended=True, database_short_lived_sessions=True,
                    database_engine_options={"echo": False})
    ours = DatabaseBackend(app=app, url=sqlite_url)
    theirs = CeleryDatabaseBackend(app=app, url=sqlite_url)
    check_celery_surface(ours, theirs, Path(__file__).parents[1] / "README.md")
    assert isinstance(ours, CeleryDatabaseBackend) and isinstance(ours, BaseBackend)
    for name in ("short_lived_sessions", "extended_result", "supports_autoexpire", "persistent"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.engine_options["echo"] is False
    with pytest.raises(AttributeError, match="ORM"):
        ours.task_cls  # noqa: B018 - the access is the test
