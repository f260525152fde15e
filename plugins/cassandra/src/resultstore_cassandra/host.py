"""The Celery host class (entry point ``cassandra``).

With Celery installed, :class:`CassandraBackend` is an instance of Celery's
``celery.backends.cassandra.CassandraBackend`` too; every public name of Celery's
class resolves to the code below or to core's (``tests/test_cassandra_celery_surface.py``).
"""

from __future__ import annotations

from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, StoreAttribute, celery_bases
from resultstore.masking import secret_values

from .config import CassandraConfig
from .store import CassandraStore

__all__ = ["CassandraBackend"]

#: Celery's ``CassandraBackend`` constructor arguments and the settings they override.
_KWARGS = {"servers": "cassandra_servers", "keyspace": "cassandra_keyspace",
           "table": "cassandra_table", "entry_ttl": "cassandra_entry_ttl", "port": "cassandra_port",
           "bundle_path": "cassandra_secure_bundle_path"}


class CassandraBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.cassandra:CassandraBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``cassandra://`` URLs (settings ``cassandra_*`` as Celery's)."""

    resultstore_store = CassandraStore

    keyspace = StoreAttribute("config.keyspace")
    table = StoreAttribute("config.table")
    port = StoreAttribute("config.port")
    #: Location of the secure connect bundle (``cassandra_secure_bundle_path``), or ``None``.
    bundle_path = StoreAttribute("config.bundle_path")
    cqlexpires = CeleryDifference(
        "resultstore prepares its own statements and binds each row's TTL (cassandra_entry_ttl, "
        "else result_expires / result_failure_expires): there is no one USING TTL clause")

    @property
    def _cassandra_config(self) -> CassandraConfig:
        store = self.backend.store
        assert isinstance(store, CassandraStore)
        return store.config

    @property
    def servers(self) -> list[str] | None:
        """``cassandra_servers`` (or the URL's hosts) as a list; ``None`` with a bundle."""
        return list(self._cassandra_config.servers) or None

    @property
    def cassandra_options(self) -> dict[str, Any]:
        """``cassandra_options``, the ``Cluster`` keyword arguments (secret-named values are
        :class:`~resultstore.masking.Secret` s)."""
        return secret_values(self._cassandra_config.options)

    @property
    def auth_provider(self) -> Any:
        """A new ``cassandra.auth`` provider from ``cassandra_auth_provider`` and
        ``cassandra_auth_kwargs`` (or the URL's user), ``None`` without one."""
        return self._cassandra_config.auth()

    @property
    def read_consistency(self) -> int:
        """The driver's ``ConsistencyLevel`` of reads (``cassandra_read_consistency``)."""
        from cassandra import ConsistencyLevel

        return int(getattr(ConsistencyLevel, self._cassandra_config.read_consistency))

    @property
    def write_consistency(self) -> int:
        from cassandra import ConsistencyLevel

        return int(getattr(ConsistencyLevel, self._cassandra_config.write_consistency))

    def __init__(self, app: Any = None, url: str | None = None, **kwargs: Any) -> None:
        self._celery_kwargs = {k: v for k, v in kwargs.items() if k in _KWARGS and v is not None}
        super().__init__(app=app, url=url, **{_KWARGS.get(k, k): v for k, v in kwargs.items()})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with the constructor arguments, as Celery's (servers, keyspace, table, ...)."""
        return (_rebuild, (type(self), self.url, self._celery_kwargs))


def _rebuild(cls: type[CassandraBackend], url: str, kwargs: dict[str, Any]) -> CassandraBackend:
    from celery import current_app  # only reachable when Celery unpickles a result

    return cls(app=current_app._get_current_object(), url=url, **kwargs)
