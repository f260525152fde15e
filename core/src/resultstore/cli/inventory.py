"""``resultstore backends``: what is installed, and what Celery will load for each scheme."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from ..blob import BlobStore
from ..errors import PluginImportError
from ..registry import Registry, _canonical, store_class_of
from .output import Output

__all__ = ["BackendRow", "inventory", "celery_builtins", "show_backends"]

#: Celery 5.7's ``celery.app.backends.BACKEND_ALIASES`` (used when Celery is not installed).
CELERY_5_7_ALIASES = {
    "rpc": "celery.backends.rpc.RPCBackend",
    "cache": "celery.backends.cache:CacheBackend",
    "redis": "celery.backends.redis:RedisBackend",
    "rediss": "celery.backends.redis:RedisBackend",
    "sentinel": "celery.backends.redis:SentinelBackend",
    "mongodb": "celery.backends.mongodb:MongoBackend",
    "db": "celery.backends.database:DatabaseBackend",
    "database": "celery.backends.database:DatabaseBackend",
    "elasticsearch": "celery.backends.elasticsearch:ElasticsearchBackend",
    "cassandra": "celery.backends.cassandra:CassandraBackend",
    "couchbase": "celery.backends.couchbase:CouchbaseBackend",
    "couchdb": "celery.backends.couchdb:CouchBackend",
    "cosmosdbsql": "celery.backends.cosmosdbsql:CosmosDBSQLBackend",
    "riak": "celery.backends.riak:RiakBackend",
    "file": "celery.backends.filesystem:FilesystemBackend",
    "disabled": "celery.backends.base:DisabledBackend",
    "consul": "celery.backends.consul:ConsulBackend",
    "dynamodb": "celery.backends.dynamodb:DynamoDBBackend",
    "azureblockblob": "celery.backends.azureblockblob:AzureBlockBlobBackend",
    "arangodb": "celery.backends.arangodb:ArangoDbBackend",
    "s3": "celery.backends.s3:S3Backend",
    "gs": "celery.backends.gcs:GCSBackend",
}


def celery_builtins() -> dict[str, str]:
    """Celery's own alias table: the installed Celery's, else 5.7's."""
    try:
        from celery.app.backends import BACKEND_ALIASES
    except Exception:  # noqa: BLE001 - Celery absent or broken: the 5.7 table is the reference
        return dict(CELERY_5_7_ALIASES)
    return dict(BACKEND_ALIASES)


@dataclass
class BackendRow:
    """One URL scheme and what serves it."""

    alias: str
    target: str
    origin: str
    distribution: str
    version: str
    store: str | None = None
    capabilities: list[str] = field(default_factory=list)
    #: Declared only where the service honours conditional writes (object stores probe it).
    conditional_capabilities: list[str] = field(default_factory=list)
    error: str | None = None
    #: True for entry points that are some other project's Celery backend class.
    foreign: bool = False
    #: What a Celery app in this environment loads for ``alias://``.
    celery_loads: str | None = None
    #: The Celery built-in class that this entry point replaces.
    replaces: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inventory(registry: Registry) -> list[BackendRow]:
    """Every alias with its serving entry, capabilities and import errors."""
    builtins = celery_builtins()
    rows = []
    for alias, candidates in sorted(registry.entries().items()):
        first = candidates[0]
        row = BackendRow(alias, first.target, first.origin, first.distribution, first.version)
        if first.origin == "entry-point":
            row.celery_loads = first.target
            row.replaces = builtins.get(alias)
            rivals = {_canonical(e.distribution) for e in candidates if e.origin == "entry-point"}
            if len(rivals) > 1:
                row.error = ("conflict: registered by " + ", ".join(
                    f"{e.distribution} ({e.target})" for e in candidates if e.origin == "entry-point"))
        else:
            row.celery_loads = builtins.get(alias)
        try:
            store = store_class_of(first.load())
        except PluginImportError as exc:
            row.error = row.error or f"{type(exc.cause).__name__}: {exc.cause}"
            rows.append(row)
            continue
        if store is None:
            row.foreign = True
        else:
            row.store = f"{store.__module__}:{store.__qualname__}"
            always, conditional = (store.declared_capabilities() if issubclass(store, BlobStore)
                                   else (store.capabilities, frozenset()))
            row.capabilities = sorted(c.value for c in always)
            row.conditional_capabilities = sorted(c.value for c in conditional)
        rows.append(row)
    return rows


def _short(path: str | None) -> str:
    """``celery.backends.filesystem:FilesystemBackend`` -> ``FilesystemBackend``."""
    return (path or "").replace(":", ".").rsplit(".", 1)[-1]


def show_backends(out: Output, registry: Registry) -> int:
    rows = inventory(registry)
    if out.json:
        out.data([r.as_dict() for r in rows])
        return 0
    table = Table(title="Installed result backends", show_lines=True)
    table.add_column("scheme", no_wrap=True)
    table.add_column("class / distribution", overflow="fold")
    table.add_column("capabilities")
    table.add_column("Celery loads")
    for row in rows:
        dist = (f"{row.distribution} {row.version}".strip() if row.origin != "builtin"
                else "resultstore (built-in)")
        celery = ("nothing (not a Celery scheme)" if row.celery_loads is None else
                  f"this class; replaces {_short(row.replaces)}" if row.replaces else
                  "this class" if row.origin == "entry-point" else
                  f"Celery's own {_short(row.celery_loads)}")
        caps = (Text(row.error, style="red") if row.error else
                Text("foreign Celery backend (not resultstore)", style="yellow") if row.foreign else
                Text(", ".join(row.capabilities) or "-"))
        if row.conditional_capabilities and not row.error and not row.foreign:
            caps.append(f"\n+ {', '.join(row.conditional_capabilities)} if conditional writes "
                        f"are honoured", style="dim")
        table.add_row(f"{row.alias}://", Text.assemble(row.target, ("\n" + dist, "dim")), caps,
                      celery)
    out.print(table)
    return 1 if any(r.error for r in rows) else 0
