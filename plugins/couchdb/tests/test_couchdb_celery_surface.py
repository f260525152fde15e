"""Celery's public ``CouchBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.backends.base import BaseBackend, KeyValueStoreBackend
from celery.backends.couchdb import CouchBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_couchdb.host import CouchDBBackend


def test_couchdb_surface(couchdb_url: str, couchdb_password: str) -> None:
    app = Celery("surface", set_as_current=False)
    ours = CouchDBBackend(app=app, url=couchdb_url)
    theirs = CouchBackend(app=app, url=couchdb_url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CouchBackend) and isinstance(ours, KeyValueStoreBackend)
        assert isinstance(ours, BaseBackend)
        for name in ("container", "host", "port", "username", "password", "scheme"):
            assert getattr(ours, name) == getattr(theirs, name), name
        if couchdb_password:
            assert couchdb_password not in repr(ours.password)
        # Celery's raw key/value API, both ways on the same database
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        theirs.store_result("surface-2", 6, "SUCCESS")
        assert ours.decode(ours.get(theirs.get_key_for_task("surface-2")))["result"] == 6
        with pytest.raises(AttributeError, match="httpx"):
            ours.connection  # noqa: B018
    finally:
        ours.backend.close()


def test_couchdb_surface_without_pycouchdb() -> None:
    """Celery's module imports without pycouchdb: ours is still an instance of its class and
    never reaches Celery's constructor (which would raise for the missing library)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['pycouchdb'] = None\n"
            "from celery import Celery\n"
            "from celery.backends.couchdb import CouchBackend\n"
            "from resultstore_couchdb.host import CouchDBBackend\n"
            "b = CouchDBBackend(app=Celery(set_as_current=False), url='couchdb://u:pw@h:1/db')\n"
            "assert isinstance(b, CouchBackend) and b.container == 'db' and repr(b.password) == \"'**'\"\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
