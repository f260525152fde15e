"""Helpers shared by the test modules (a module name of its own: every plugin has a conftest)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import cassandra.cluster

__all__ = ["REAL_URL", "KEYSPACE", "STANDIN_ONLY", "celery_conf", "raw_rows", "ensure_keyspace"]

#: ``cassandra://[user:password@]host[,host2][:port]`` of a real server, if any.
REAL_URL = os.environ.get("RESULTSTORE_TEST_CASSANDRA_URL")
KEYSPACE = "resultstore_test"
#: Why a stand-in-only test is skipped on a real server.
STANDIN_ONLY = "inspects the stand-in's request log or clock (RESULTSTORE_TEST_CASSANDRA_URL is set)"


def celery_conf(url: str, **extra: object) -> dict[str, object]:
    """Celery's ``cassandra_*`` settings for a test URL (Celery ignores the URL itself)."""
    parts = urlsplit(url)
    keyspace, table = parts.path.strip("/").split("/")
    conf: dict[str, object] = {
        "cassandra_servers": (parts.hostname or "127.0.0.1").split(","),
        "cassandra_port": parts.port or 9042, "cassandra_keyspace": keyspace,
        "cassandra_table": table}
    if parts.username:
        conf.update(cassandra_auth_provider="PlainTextAuthProvider",
                    cassandra_auth_kwargs={"username": parts.username,
                                           "password": parts.password or ""})
    conf.update(extra)
    return conf


def raw_rows(url: str, task_id: str) -> list[dict[str, object]]:
    """Every row of a task's partition, newest first, read with a plain driver session."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.query import dict_factory

    parts = urlsplit(url)
    keyspace, table = parts.path.strip("/").split("/")
    auth = (PlainTextAuthProvider(username=parts.username, password=parts.password or "")
            if parts.username else None)
    cluster = cassandra.cluster.Cluster((parts.hostname or "127.0.0.1").split(","),
                                        port=parts.port or 9042, auth_provider=auth)
    try:
        session = cluster.connect(keyspace)
        session.row_factory = dict_factory
        return list(session.execute(
            f"SELECT task_id, status, result, date_done, traceback, children FROM {table} "
            f"WHERE task_id = %s", (task_id,)))
    finally:
        cluster.shutdown()


def ensure_keyspace(url: str) -> None:
    """Create the tests' keyspace on a real server (SimpleStrategy, RF 1)."""
    from cassandra.auth import PlainTextAuthProvider

    parts = urlsplit(url)
    auth = (PlainTextAuthProvider(username=parts.username, password=parts.password or "")
            if parts.username else None)
    cluster = cassandra.cluster.Cluster((parts.hostname or "127.0.0.1").split(","),
                                        port=parts.port or 9042, auth_provider=auth)
    try:
        cluster.connect().execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    finally:
        cluster.shutdown()
