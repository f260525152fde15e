"""``arangodb://username:password@host:8529/database/collection``, read as Celery reads it.

Values in the URL win over ``arangodb_backend_settings`` (a dict with ``host``, ``port``,
``database``, ``collection``, ``username``, ``password``, ``http_protocol``, ``verify``),
which win over Celery's defaults (``127.0.0.1:8529``, database and collection ``celery``,
``http``).  ``verify`` is the TLS certificate check of ``https`` connections (True, False or
a CA bundle's path): Celery turns it off unless told otherwise; here it is on unless
``verify`` is set to False.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url

__all__ = ["ArangoConfig"]

PROTOCOLS = ("http", "https")


@dataclass(frozen=True)
class ArangoConfig:
    """Where and how to reach ArangoDB (the fields of Celery's ``ArangoDbBackend``)."""

    host: str = "127.0.0.1"
    port: int = 8529
    database: str = "celery"
    collection: str = "celery"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    http_protocol: str = "http"
    #: TLS verification of ``https``: True, False, or the path of a CA bundle (as requests).
    verify: bool | str = True
    #: Seconds before an HTTP request is given up.
    timeout: float = 60.0

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ArangoConfig:
        parts = urlsplit(url or "arangodb://")
        if parts.scheme != "arangodb":
            raise ImproperlyConfigured(
                f"Not an ArangoDB URL (scheme {parts.scheme!r}); use "
                f"arangodb://user:password@host:8529/database/collection.")
        if parts.fragment or "@" in parts.path + parts.query or "#" in url:
            raise ImproperlyConfigured(
                "arangodb URL: a '/', '?', '#' or '@' in the user name or password must be "
                "percent-encoded (else part of it is read as host or database).")
        conf = settings.get("arangodb_backend_settings") or {}
        if not isinstance(conf, dict):
            raise ImproperlyConfigured("ArangoDb backend settings should be grouped in a dict")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("arangodb URL: the port must be a number.") from None
        path = [unquote(p) for p in parts.path.strip("/").split("/")] if parts.path.strip("/") \
            else []
        if len(path) > 2:
            raise ImproperlyConfigured("arangodb URL: the path is /database or "
                                       "/database/collection.")
        database = path[0] if path else None
        collection = path[1] if len(path) > 1 else None
        protocol = str(conf.get("http_protocol", "http"))
        if protocol not in PROTOCOLS:
            raise ImproperlyConfigured(f"arangodb_backend_settings: http_protocol must be http or "
                                       f"https, got {protocol!r}")
        try:
            port = int(port or conf.get("port", 8529))
        except (TypeError, ValueError):
            raise ImproperlyConfigured("arangodb_backend_settings: port must be a number.") \
                from None
        timeout = settings.get("arangodb_timeout")
        return cls(
            host=parts.hostname or str(conf.get("host", "127.0.0.1")),
            port=port,
            database=database or str(conf.get("database", "celery")),
            collection=collection or str(conf.get("collection", "celery")),
            username=unquote(parts.username) if parts.username else conf.get("username"),
            password=unquote(parts.password) if parts.password else conf.get("password"),
            http_protocol=protocol,
            verify=verify if isinstance(verify := conf.get("verify", True), str) else bool(verify),
            timeout=60.0 if timeout is None else float(timeout),
        )

    @property
    def endpoint(self) -> str:
        """The server URL handed to the driver (no credentials in it)."""
        return f"{self.http_protocol}://{self.host}:{self.port}"

    def secrets(self) -> list[str]:
        """What to mask in free text (driver errors)."""
        return [self.password] if self.password else []

    def as_uri(self, include_password: bool = False) -> str:
        """The URL, its password masked unless asked for."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        uri = f"arangodb://{auth}{self.host}:{self.port}/{self.database}/{self.collection}"
        return uri if include_password else mask_url(uri)

    def __repr__(self) -> str:
        return f"ArangoConfig({self.as_uri()!r}, http_protocol={self.http_protocol!r})"
