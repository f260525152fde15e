"""``couchbase://user:password@host:port/bucket`` and ``couchbase_backend_settings`` -> config.

Celery's ``CouchbaseBackend`` reads the URL with kombu's ``_parse_url`` (user and password
percent-decoded, the path is the bucket), then takes each of ``host``, ``port``, ``bucket``,
``username``, ``password`` from ``couchbase_backend_settings`` where the URL has none;
defaults ``localhost``, ``8091``, ``default``.  resultstore reads both the same way and adds
keys of its own to that dict: ``connection_string`` (a full SDK connection string, e.g.
``couchbases://a,b,c?...``, instead of host/port), ``scope`` and ``collection`` (Celery uses
the bucket's default collection), ``timeout`` (seconds per key/value operation) and
``connect_timeout`` (seconds to bootstrap).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url

__all__ = ["CouchbaseConfig"]

#: Celery's defaults (``celery/backends/couchbase.py``).
DEFAULT_HOST, DEFAULT_PORT, DEFAULT_BUCKET = "localhost", 8091, "default"
#: Couchbase's HTTP (management) ports: not a key/value port for SDK 4's connection string.
HTTP_PORTS = (8091, 18091)
_KEYS = ("host", "port", "bucket", "username", "password", "connection_string", "scope",
         "collection", "timeout", "connect_timeout")


def _seconds(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"couchbase {name} must be a number of seconds, got {value!r}") from None
    if number <= 0:
        raise ImproperlyConfigured(f"couchbase {name} must be positive, got {value!r}")
    return number


@dataclass(frozen=True)
class CouchbaseConfig:
    """Where the results live (the password never appears in ``repr``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    bucket: str = DEFAULT_BUCKET
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: A full SDK connection string; replaces host and port when given.
    connection_string: str | None = None
    scope: str = "_default"
    collection: str = "_default"
    #: Seconds per key/value operation (the SDK's ``kv_timeout``; Celery's 2.5 s is unused by it).
    timeout: float = 2.5
    #: Seconds to bootstrap the cluster connection.
    connect_timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str | None, settings: Settings) -> CouchbaseConfig:
        url = url or "couchbase://"
        scheme, sep, rest = url.partition("://")
        if not sep or scheme != "couchbase":
            raise ImproperlyConfigured(f"Not a couchbase:// URL: {mask_url(url)!r}.")
        options = settings.get("couchbase_backend_settings")
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ImproperlyConfigured("Couchbase backend settings should be grouped in a dict")
        unknown = sorted(set(options) - set(_KEYS))
        if unknown:
            raise ImproperlyConfigured(f"Unknown couchbase_backend_settings keys {unknown}: "
                                       f"keys are {', '.join(_KEYS)}.")
        userinfo, _, location = rest.rpartition("@")  # a password may hold unencoded @ / ? #
        parts = urlsplit("http://" + location)
        user, _, password = userinfo.partition(":")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(
                f"couchbase URL {mask_url(url)!r}: the port must be a number.") from None
        # The URL wins over the settings, as in Celery (``uhost or config.get(...)``).
        values: dict[str, Any] = {
            "host": unquote(parts.hostname or "") or options.get("host") or DEFAULT_HOST,
            "bucket": unquote(parts.path).strip("/") or options.get("bucket") or DEFAULT_BUCKET,
            "username": unquote(user) or options.get("username") or None,
            "password": unquote(password) or options.get("password") or None,
        }
        try:
            values["port"] = int(port or options.get("port") or DEFAULT_PORT)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"couchbase port must be a number, got {options.get('port')!r}") from None
        for name in ("connection_string", "scope", "collection"):
            if options.get(name):
                values[name] = str(options[name])
        for name in ("timeout", "connect_timeout"):
            if options.get(name) is not None:
                values[name] = _seconds(name, options[name])
        return cls(**values)

    @property
    def connstr(self) -> str:
        """The SDK connection string.

        Celery builds ``couchbase://host:port`` with its default port 8091, Couchbase's
        HTTP port; SDK 4 expects key/value ports there, so an HTTP port (8091, 18091) is
        left out and the SDK's default key/value port is used.
        """
        if self.connection_string:
            return self.connection_string
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"couchbase://{host}" if self.port in HTTP_PORTS else f"couchbase://{host}:{self.port}"

    def as_uri(self, include_password: bool = False) -> str:
        """``couchbase://user:**@host:port/bucket``: the password masked as Celery masks it."""
        from urllib.parse import quote

        auth = ""
        if self.username or self.password:
            secret = (quote(self.password or "", safe="") if include_password else "**"
                      ) if self.password else ""
            auth = f"{quote(self.username or '', safe='')}{':' + secret if secret else ''}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"couchbase://{auth}{host}:{self.port}/{quote(self.bucket, safe='')}"
