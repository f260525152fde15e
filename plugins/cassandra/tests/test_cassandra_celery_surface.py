"""Celery's public ``CassandraBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import pytest
from cassandra_helpers import celery_conf
from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.cassandra import CassandraBackend as CeleryCassandraBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_cassandra.host import CassandraBackend


def test_cassandra_surface(fresh_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    app.conf.update(celery_conf(fresh_url, cassandra_read_consistency="ONE",
                                cassandra_write_consistency="QUORUM",
                                cassandra_options={"protocol_version": 4}))
    ours = CassandraBackend(app=app, url="cassandra://")
    theirs = CeleryCassandraBackend(app=app, url="cassandra://")
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryCassandraBackend) and isinstance(ours, BaseBackend)
        for name in ("servers", "port", "keyspace", "table", "bundle_path", "cassandra_options",
                     "read_consistency", "write_consistency", "auth_provider"):
            assert getattr(ours, name) == getattr(theirs, name), name
        with pytest.raises(AttributeError, match="TTL"):
            ours.cqlexpires  # noqa: B018
        # both read the rows the other writes, in the same table
        ours.store_result("surface-1", 5, "SUCCESS")
        assert theirs.get_task_meta("surface-1")["result"] == 5
    finally:
        ours.backend.close()
        if theirs._cluster is not None:
            theirs._cluster.shutdown()


def test_cassandra_surface_credentials() -> None:
    """An auth provider built as Celery builds it; its password never in a repr."""
    app = Celery("surface", set_as_current=False)
    app.conf.update(cassandra_servers=["db.example"], cassandra_keyspace="ks", cassandra_table="t",
                    cassandra_auth_provider="PlainTextAuthProvider",
                    cassandra_auth_kwargs={"username": "alice", "password": "s3cr3t-pw"},
                    cassandra_options={"ssl_options": {"keyfile_password": "key-pw-123"}})
    ours = CassandraBackend(app=app)
    theirs = CeleryCassandraBackend(app=app)
    try:
        assert type(ours.auth_provider) is type(theirs.auth_provider)
        assert vars(ours.auth_provider) == vars(theirs.auth_provider)
        assert "s3cr3t" not in repr(ours.auth_provider)
        assert ours.cassandra_options == theirs.cassandra_options
        assert ours.servers == theirs.servers == ["db.example"]
    finally:
        ours.backend.close()
