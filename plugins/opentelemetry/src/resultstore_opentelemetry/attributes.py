"""Semantic-convention attributes of a backend, from its masked URI (never a credential).

``db.system.name``, ``server.address`` and ``server.port`` follow OpenTelemetry's database
client conventions; ``resultstore.backend.scheme`` is the URL scheme as given.  Only
:meth:`ResultBackend.as_uri` (password masked) is read, and only its scheme, host and port
are kept: user names, passwords, paths and query strings never become attributes.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from resultstore import ResultBackend

__all__ = ["backend_attributes", "db_system"]

#: Scheme parts (``db+postgresql+psycopg`` -> ``postgresql``) to well-known ``db.system.name``.
SYSTEMS = {
    "redis": "redis", "rediss": "redis", "sentinel": "redis", "sentinels": "redis",
    "valkey": "valkey", "postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
    "mariadb": "mariadb", "sqlite": "sqlite", "mssql": "microsoft.sql_server",
    "oracle": "oracle.db", "mongodb": "mongodb", "cassandra": "cassandra",
    "couchdb": "couchdb", "couchbase": "couchbase", "elasticsearch": "elasticsearch",
    "dynamodb": "aws.dynamodb", "cosmosdbsql": "azure.cosmosdb", "memcache": "memcached",
    "memcached": "memcached", "pylibmc": "memcached", "riak": "riak", "consul": "consul",
}

#: Systems without a server (their URL's host part names a namespace, not a machine).
LOCAL = frozenset({"memory", "file", "sqlite"})

_cache: weakref.WeakKeyDictionary[ResultBackend, dict[str, str | int]] = (
    weakref.WeakKeyDictionary())


def db_system(scheme: str) -> str:
    """``db.system.name`` for a URL scheme: the well-known name, else the scheme itself."""
    for part in reversed(scheme.lower().split("+")):
        if part in SYSTEMS:
            return SYSTEMS[part]
    return scheme.lower() or "other"


def backend_attributes(backend: ResultBackend) -> dict[str, str | int]:
    """Attributes common to every signal of ``backend`` (computed once per backend)."""
    found = _cache.get(backend)
    if found is None:
        found = _cache[backend] = _attributes(backend)
    return found


def _attributes(backend: ResultBackend) -> dict[str, str | int]:
    parts = urlsplit(backend.as_uri())  # masked
    scheme = parts.scheme or type(backend.store).__name__.lower()
    attrs: dict[str, str | int] = {"db.system.name": db_system(scheme),
                                   "resultstore.backend.scheme": scheme}
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # several hosts (sentinel, cluster seeds): no single server
        host, port = None, None
    if host and attrs["db.system.name"] not in LOCAL:
        attrs["server.address"] = host
        if port:
            attrs["server.port"] = port
    return attrs
