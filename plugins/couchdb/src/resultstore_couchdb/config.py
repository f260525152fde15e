"""``couchdb://user:password@host:port/database`` and ``couchdb_*`` settings -> :class:`CouchDBConfig`.

Celery's ``CouchBackend`` reads the URL with kombu's ``url_to_parts``: host ``localhost``,
port ``5984`` and database ``default`` unless given, user and password percent-decoded,
always plain ``http``.  resultstore reads it the same way and adds a few options of its
own (query parameters or ``couchdb_*`` settings; the URL wins): ``ssl`` (HTTPS),
``ca_certs``, ``timeout``, ``max_connections``, ``changes_feed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url
from resultstore.options import flag, positive_number, query_options, url_port

__all__ = ["CouchDBConfig"]

#: Celery's defaults (``celery/backends/couchdb.py``).
DEFAULT_HOST, DEFAULT_PORT, DEFAULT_DATABASE = "localhost", 5984, "default"
_OPTIONS = ("ssl", "ca_certs", "timeout", "max_connections", "changes_feed")


@dataclass(frozen=True)
class CouchDBConfig:
    """Where the results live (the password never appears in ``repr``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: HTTPS instead of Celery's fixed ``http``.
    ssl: bool = False
    #: A CA bundle (PEM file) to verify the server's certificate with, instead of certifi's.
    ca_certs: str | None = None
    #: Seconds for connecting and for each request (the ``_changes`` long poll adds its own).
    timeout: float = 30.0
    #: Connections kept per process (httpx's pool).
    max_connections: int = 20
    #: Push wake-ups through the ``_changes`` feed (``False``: waits poll).
    changes_feed: bool = True

    @classmethod
    def from_url(cls, url: str | None, settings: Settings) -> CouchDBConfig:
        url = url or "couchdb://"
        scheme, sep, rest = url.partition("://")
        if not sep or scheme != "couchdb":
            raise ImproperlyConfigured(f"Not a couchdb:// URL (scheme {scheme!r}).")
        userinfo, at, _ = rest.rpartition("@")
        if at and any(c in userinfo for c in "/?#"):  # urlsplit would cut the password there
            raise ImproperlyConfigured(
                "couchdb URL: the user or password holds '/', '?' or '#'; percent-encode them "
                "(urllib.parse.quote(password, safe='')).")
        parts = urlsplit("http://" + rest)
        port = url_port("couchdb", parts)
        options: dict[str, Any] = {name: settings.get(f"couchdb_{name}") for name in _OPTIONS}
        query_options("couchdb", parts.query, _OPTIONS, options)
        path = unquote(parts.path).strip("/")
        values: dict[str, Any] = {
            "host": unquote(parts.hostname or "") or DEFAULT_HOST,
            "port": int(port or DEFAULT_PORT),
            "database": path or DEFAULT_DATABASE,
            "username": unquote(parts.username or "") or None,
            "password": unquote(parts.password or "") or None,
        }
        for name in ("ssl", "changes_feed"):
            if options[name] is not None:
                values[name] = flag("couchdb", name, options[name])
        if options["ca_certs"]:
            values["ca_certs"] = str(options["ca_certs"])
        if options["timeout"] is not None:
            values["timeout"] = positive_number("couchdb", "timeout", options["timeout"], float)
        if options["max_connections"] is not None:
            values["max_connections"] = positive_number("couchdb", "max_connections",
                                                          options["max_connections"], int)
        return cls(**values)

    @property
    def base_url(self) -> str:
        """``http(s)://host:port`` without credentials (they travel as Basic auth)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}"

    @property
    def database_path(self) -> str:
        """The database's URL path (``/`` in a name is sent as ``%2F``, as CouchDB wants)."""
        return "/" + quote(self.database, safe="")

    @property
    def auth(self) -> tuple[str, str] | None:
        """Basic auth, only with both user and password (as Celery)."""
        return (self.username, self.password) if self.username and self.password else None

    def as_uri(self, include_password: bool = False) -> str:
        """``couchdb://user:**@host:port/database``: masked by :func:`resultstore.masking.mask_url`."""
        auth = ""
        if self.username or self.password:
            secret = f":{quote(self.password, safe='')}" if self.password else ""
            auth = f"{quote(self.username or '', safe='')}{secret}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?ssl=true" if self.ssl else ""
        if self.ca_certs:
            query += f"{'&' if query else '?'}ca_certs={quote(self.ca_certs, safe='/')}"
        url = f"couchdb://{auth}{host}:{self.port}/{quote(self.database, safe='')}{query}"
        return url if include_password else mask_url(url)
