"""The Celery host class (entry point ``cassandra``)."""

from __future__ import annotations

from typing import Any

from resultstore.celery import CeleryBackend

from .store import CassandraStore

__all__ = ["CassandraBackend"]

#: Celery's ``CassandraBackend`` constructor arguments and the settings they override.
_KWARGS = {"servers": "cassandra_servers", "keyspace": "cassandra_keyspace",
           "table": "cassandra_table", "entry_ttl": "cassandra_entry_ttl", "port": "cassandra_port",
           "bundle_path": "cassandra_secure_bundle_path"}


class CassandraBackend(CeleryBackend):
    """Celery loads this for ``cassandra://`` URLs (settings ``cassandra_*`` as Celery's)."""

    resultstore_store = CassandraStore

    def __init__(self, app: Any = None, url: str | None = None, **kwargs: Any) -> None:
        self._celery_kwargs = {k: v for k, v in kwargs.items() if k in _KWARGS and v is not None}
        super().__init__(app=app, url=url, **{_KWARGS.get(k, k): v for k, v in kwargs.items()})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with the constructor arguments, as Celery's (servers, keyspace, table, ...)."""
        return (_rebuild, (type(self), self.url, self._celery_kwargs))


def _rebuild(cls: type[CassandraBackend], url: str, kwargs: dict[str, Any]) -> CassandraBackend:
    from celery import current_app  # only reachable when Celery unpickles a result

    return cls(app=current_app._get_current_object(), url=url, **kwargs)
