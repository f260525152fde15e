"""Celery's public ``FilesystemBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.filesystem import FilesystemBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_file.host import FileBackend


def test_file_surface(result_dir: Path) -> None:
    app = Celery("surface", set_as_current=False)
    url = f"file://{result_dir}"
    ours, theirs = FileBackend(app=app, url=url), FilesystemBackend(app=app, url=url)
    check_celery_surface(ours, theirs, Path(__file__).parents[1] / "README.md")
    assert isinstance(ours, FilesystemBackend) and isinstance(ours, BaseBackend)
    assert (ours.path, ours.sep, ours.open, ours.unlink) == (
        theirs.path, theirs.sep, theirs.open, theirs.unlink)
    ours.store_result("surface-1", 7, "SUCCESS")
    key = ours.get_key_for_task("surface-1")
    assert key == theirs.get_key_for_task("surface-1")
    assert ours.get(key) == theirs.get(key) and theirs.decode(ours.get(key))["result"] == 7
    theirs.set(b"celery-task-meta-surface-2", theirs.encode({"status": "SUCCESS", "result": 8}))
    assert ours.get_task_meta("surface-2")["result"] == 8
    assert ours.mget([key]) == list(theirs.mget([key]))
    ours.delete(key)
    assert theirs.get(key) is None
