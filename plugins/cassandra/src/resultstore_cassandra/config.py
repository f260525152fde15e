"""Celery's ``cassandra_*`` settings (names, defaults and rules of Celery 5.7), plus the URL.

Celery's ``CassandraBackend`` ignores the URL (``cassandra://``) and reads everything from
settings.  resultstore reads the same settings and, for settings left unset, also accepts
``cassandra://[user:password@]host1,host2[:port]/keyspace/table``: settings win.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured

__all__ = ["CassandraConfig", "KEEP_SUCCESS_MODES", "CONSISTENCY_NAMES"]

#: ``cassandra_keep_success``: how a stored SUCCESS is kept (see the README).
KEEP_SUCCESS_MODES = ("read", "lwt")
#: Names Celery looks up on ``cassandra.ConsistencyLevel``.
CONSISTENCY_NAMES = ("ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM",
                     "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_E_NOT_CONFIGURED = ("The Cassandra result backend needs cassandra_servers (or "
                     "cassandra_secure_bundle_path), cassandra_keyspace and cassandra_table "
                     "(or a URL cassandra://host1,host2:9042/keyspace/table).")


def _identifier(value: str, what: str) -> str:
    """Keyspace and table names go into CQL text: only plain identifiers are accepted."""
    if not _IDENTIFIER.match(value):
        raise ImproperlyConfigured(f"cassandra_{what} must be a plain CQL identifier (letters, "
                                   f"digits, underscores; at most 48), got {value!r}")
    return value


def _consistency(settings: Settings, name: str, default: str) -> str:
    """Celery falls back to LOCAL_QUORUM on an unknown name; resultstore says so instead."""
    value = settings.get(name) or default
    if str(value).upper() not in CONSISTENCY_NAMES:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(CONSISTENCY_NAMES)}; "
                                   f"got {value!r}")
    return str(value).upper()


def _serial(settings: Settings) -> str:
    value = _consistency(settings, "cassandra_serial_consistency", "LOCAL_SERIAL")
    if value not in ("SERIAL", "LOCAL_SERIAL"):
        raise ImproperlyConfigured(f"cassandra_serial_consistency must be SERIAL or LOCAL_SERIAL, "
                                   f"got {value!r}")
    return value


def _ttl(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}") from None


@dataclass(frozen=True)
class CassandraConfig:
    """Everything :class:`~resultstore_cassandra.store.CassandraStore` reads from settings."""

    keyspace: str
    table: str
    servers: tuple[str, ...] = ()
    port: int = 9042
    bundle_path: str | None = None
    read_consistency: str = "LOCAL_QUORUM"
    write_consistency: str = "LOCAL_QUORUM"
    serial_consistency: str = "LOCAL_SERIAL"
    #: ``cassandra_entry_ttl``: Celery's one lifetime for every row (wins over result_expires).
    entry_ttl: int | None = None
    auth_provider: str | None = None
    auth_kwargs: Mapping[str, Any] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    keep_success: str = "read"
    extended: bool = False
    expires: float | None = 86400.0
    failure_expires: float | None = 86400.0
    chord_expires: float | None = 86400.0

    @classmethod
    def from_settings(cls, url: str | None, settings: Settings) -> CassandraConfig:
        parts = urlsplit(url or "cassandra://")
        if parts.scheme not in ("cassandra", ""):
            raise ImproperlyConfigured(f"Not a cassandra:// URL (scheme {parts.scheme!r}).")
        netloc = parts.netloc.rpartition("@")[2]
        url_port: int | None = None
        hosts_text = netloc
        if ":" in netloc.rsplit(",", 1)[-1]:
            hosts_text, _, port_text = netloc.rpartition(":")
            try:
                url_port = int(port_text)
            except ValueError:
                raise ImproperlyConfigured("cassandra URL: the port must be a number.") from None
        url_hosts = tuple(h for h in hosts_text.split(",") if h)
        path = [unquote(p) for p in parts.path.split("/") if p]
        servers = settings.get("cassandra_servers") or url_hosts
        if isinstance(servers, str):
            servers = tuple(s.strip() for s in servers.split(",") if s.strip())
        bundle = settings.get("cassandra_secure_bundle_path")
        keyspace = settings.get("cassandra_keyspace") or (path[0] if path else None)
        table = settings.get("cassandra_table") or (path[1] if len(path) > 1 else None)
        if not (servers or bundle) or not keyspace or not table:
            raise ImproperlyConfigured(_E_NOT_CONFIGURED)
        if servers and bundle:
            raise ImproperlyConfigured("Set cassandra_servers or cassandra_secure_bundle_path, "
                                       "not both (Celery refuses the same).")
        auth_provider = settings.get("cassandra_auth_provider")
        auth_kwargs = dict(settings.get("cassandra_auth_kwargs") or {})
        if parts.username and not auth_provider:
            auth_provider = "PlainTextAuthProvider"
            auth_kwargs = {"username": unquote(parts.username),
                           "password": unquote(parts.password or "")}
        keep = str(settings.get("cassandra_keep_success") or "read").lower()
        if keep not in KEEP_SUCCESS_MODES:
            raise ImproperlyConfigured(f"cassandra_keep_success must be one of "
                                       f"{KEEP_SUCCESS_MODES}, got {keep!r}")
        return cls(
            keyspace=_identifier(str(keyspace), "keyspace"),
            table=_identifier(str(table), "table"),
            servers=tuple(servers),
            port=int(settings.get("cassandra_port") or url_port or 9042),
            bundle_path=bundle,
            read_consistency=_consistency(settings, "cassandra_read_consistency", "LOCAL_QUORUM"),
            write_consistency=_consistency(settings, "cassandra_write_consistency", "LOCAL_QUORUM"),
            serial_consistency=_serial(settings),
            entry_ttl=_ttl(settings.get("cassandra_entry_ttl"), "cassandra_entry_ttl"),
            auth_provider=auth_provider,
            auth_kwargs=auth_kwargs,
            options=dict(settings.get("cassandra_options") or {}),
            keep_success=keep,
            extended=bool(settings["result_extended"]),
            expires=settings.expires,
            failure_expires=settings.failure_expires,
            chord_expires=settings.chord_expires,
        )

    def auth(self) -> Any:
        """Celery's rule: a provider *and* kwargs, the class looked up on ``cassandra.auth``."""
        if not (self.auth_provider and self.auth_kwargs):
            return None
        import cassandra.auth

        provider = getattr(cassandra.auth, self.auth_provider, None)
        if not isinstance(provider, type):
            raise ImproperlyConfigured(f"cassandra_auth_provider {self.auth_provider!r} is not a "
                                       f"class of cassandra.auth (e.g. PlainTextAuthProvider).")
        return provider(**self.auth_kwargs)

    def as_uri(self, include_password: bool = False) -> str:
        """``cassandra://user:**@hosts:port/keyspace/table``; the password only when asked for."""
        auth = ""
        user = self.auth_kwargs.get("username")
        if user:
            secret = self.auth_kwargs.get("password", "") if include_password else "**"
            auth = f"{user}:{secret}@"
        where = f"{','.join(self.servers)}:{self.port}" if self.servers else "astra-bundle"
        return f"cassandra://{auth}{where}/{self.keyspace}/{self.table}"
