"""Celery's public ``MongoBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import datetime as dt

import pytest
from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.mongodb import MongoBackend as CeleryMongoBackend
from pymongo import uri_parser

from resultstore.errors import ImproperlyConfigured
from resultstore.testing.celery_surface import check_celery_surface
from resultstore_mongodb.host import MongoBackend


def _pair(url: str, **conf: object) -> tuple[MongoBackend, CeleryMongoBackend]:
    app = Celery("surface", set_as_current=False)
    app.conf.update(conf)
    return MongoBackend(app=app, url=url), CeleryMongoBackend(app=app, url=url)


def test_mongodb_surface(mongodb_url: str) -> None:
    ours, theirs = _pair(mongodb_url, result_expires=600)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryMongoBackend) and isinstance(ours, BaseBackend)
        for name in ("database_name", "taskmeta_collection", "groupmeta_collection", "host",
                     "port", "mongo_host", "user", "password", "options", "max_pool_size",
                     "expires_delta", "supports_autoexpire"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert ours.expires_delta == dt.timedelta(seconds=600)
        # the pymongo handles: what ours writes, Celery's collection reads, and back
        ours.store_result("surface-1", 5, "SUCCESS")
        assert ours.collection.full_name == theirs.collection.full_name
        assert ours.group_collection.full_name == theirs.group_collection.full_name
        assert ours.database.name == theirs.database.name
        assert theirs.get_task_meta("surface-1")["result"] == 5
        assert ours.collection.find_one({"_id": "surface-1"})["status"] == "SUCCESS"
    finally:
        ours.backend.close()


def test_mongodb_surface_settings_and_secrets() -> None:
    """``mongodb_backend_settings`` take over as in Celery; the password is never in a repr."""
    url = "mongodb://alice:s3cr3t-pw@h1:27017,h2:27018/results?authSource=admin&maxPoolSize=7"
    ours, theirs = _pair(url)
    try:
        for name in ("mongo_host", "user", "password", "database_name", "options",
                     "max_pool_size", "host", "port"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert ours.mongo_host == ["h1:27017", "h2:27018"] and ours.options["maxPoolSize"] == 7
        assert ours.password == "s3cr3t-pw" and "s3cr3t" not in repr(ours.password)
    finally:
        ours.backend.close()
    settings = {"host": "db.example", "port": 27019, "user": "bob", "password": "other-pw",
                "database": "d2", "taskmeta_collection": "tm", "groupmeta_collection": "gm",
                "options": {"tlsCertificateKeyFilePassword": "key-pw-123"}}
    ours, theirs = _pair("mongodb://localhost/db", mongodb_backend_settings=settings)
    try:
        for name in ("host", "port", "mongo_host", "user", "password", "database_name",
                     "taskmeta_collection", "groupmeta_collection"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert ours.options["tlsCertificateKeyFilePassword"] == "key-pw-123"
        assert "key-pw-123" not in repr(ours.options) and "other-pw" not in repr(ours.password)
    finally:
        ours.backend.close()


def test_mongodb_surface_errors_mask_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error reading the URL again (``mongo_host``, ``options``) never shows the password."""

    ours, _ = _pair("mongodb://alice:s3cr3t-pw@h1:27017/results")
    try:
        def failing(url: str) -> None:
            raise ValueError(f"cannot parse {url}")

        monkeypatch.setattr(uri_parser, "parse_uri", failing)
        with pytest.raises(ImproperlyConfigured) as info:
            ours.mongo_host  # noqa: B018
        assert "s3cr3t" not in str(info.value) and "alice:**@h1" in str(info.value)
    finally:
        ours.backend.close()
