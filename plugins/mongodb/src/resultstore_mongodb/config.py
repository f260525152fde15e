"""``mongodb://`` / ``mongodb+srv://`` URLs and ``mongodb_backend_settings``, as Celery reads them.

Celery's ``MongoBackend`` takes the URL (``user:password@hosts/database?options``), then lets
``mongodb_backend_settings`` override it: ``host``/``port`` (replacing the URL's hosts),
``mongo_host``, ``user``, ``password``, ``database``, ``taskmeta_collection``,
``groupmeta_collection``, ``options`` and any other key (passed to ``MongoClient``).
``max_pool_size`` (default 10) becomes pymongo's ``maxPoolSize``.  resultstore adds one
key of its own, ``chordmeta_collection`` (native chords, default ``celery_chordmeta``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url, url_password

__all__ = ["MongoConfig"]

_RESERVED = ("host", "port", "mongo_host", "user", "password", "database", "taskmeta_collection",
             "groupmeta_collection", "chordmeta_collection", "options", "max_pool_size")


def _compliant(url: str) -> str:
    """Celery's ``_ensure_mongodb_uri_compliance``: ``srv://`` (split off by Celery's
    ``by_url``) becomes ``mongodb+srv://`` again, a bare ``mongodb://`` means localhost."""
    if not url.split("://", 1)[0].startswith("mongodb"):
        url = f"mongodb+{url}"
    return "mongodb://localhost" if url == "mongodb://" else url


@dataclass(frozen=True, repr=False)
class MongoConfig:
    """Where results live and how the client connects."""

    #: The URL given (Celery's form restored: ``mongodb://`` or ``mongodb+srv://``).
    url: str = "mongodb://localhost"
    #: Hosts overriding the URL's (``mongodb_backend_settings`` ``host``/``port``/``mongo_host``).
    hosts: Any = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str = "celery"
    taskmeta_collection: str = "celery_taskmeta"
    groupmeta_collection: str = "celery_groupmeta"
    chordmeta_collection: str = "celery_chordmeta"
    #: Keyword options for ``MongoClient`` (settings' ``options`` and extra keys).
    options: Mapping[str, Any] = field(default_factory=dict)
    #: ``result_extended``: return name/args/kwargs/worker/retries/queue on reads.
    extended: bool = False
    expires: float | None = 86400.0
    failure_expires: float | None = 86400.0
    chord_expires: float | None = 86400.0

    @classmethod
    def from_url(cls, url: str | None, settings: Settings) -> MongoConfig:
        url = _compliant(url or "mongodb://")
        parts = urlsplit(url)
        if parts.scheme not in ("mongodb", "mongodb+srv"):
            raise ImproperlyConfigured(
                f"Not a MongoDB URL (scheme {parts.scheme!r}); use mongodb:// or mongodb+srv://.")
        netloc = parts.netloc.rpartition("@")
        userinfo = netloc[0]
        raw_password = userinfo.split(":", 1)[1] if ":" in userinfo else None
        if url_password(url) != raw_password:  # a raw / ? # ended the user info early
            raise ImproperlyConfigured(
                f"Malformed MongoDB URL {mask_url(url)!r}: percent-encode the user name and "
                f"password (RFC 3986; pymongo requires it for @ : / % and Celery passes the URL on).")
        user = unquote(userinfo.split(":", 1)[0]) if userinfo else None
        password = unquote(userinfo.split(":", 1)[1]) if ":" in userinfo else None
        database = unquote(parts.path.lstrip("/")) or "celery"
        values: dict[str, Any] = {}
        # Celery's default pool size, unless the URL sets one (its options override the default)
        in_url = any(name.lower() == "maxpoolsize" for name, _ in parse_qsl(parts.query))
        options: dict[str, Any] = {} if in_url else {"maxPoolSize": 10}
        hosts: Any = None
        conf = settings.get("mongodb_backend_settings")
        if conf is not None:
            if not isinstance(conf, Mapping):
                raise ImproperlyConfigured("MongoDB backend settings should be grouped in a dict")
            conf = dict(conf)
            if "host" in conf or "port" in conf:
                host, port = conf.get("host", "localhost"), conf.get("port", 27017)
                hosts = host if isinstance(host, str) and host.startswith("mongodb") else (
                    host if not isinstance(host, str) else f"mongodb://{host}:{port}")
            if conf.get("mongo_host"):
                hosts = conf["mongo_host"]
            user = conf.get("user", user)
            password = conf.get("password", password)
            database = conf.get("database", database)
            for name in ("taskmeta_collection", "groupmeta_collection", "chordmeta_collection"):
                if name in conf:
                    values[name] = str(conf[name])
            if "max_pool_size" in conf:
                options["maxPoolSize"] = int(conf["max_pool_size"])
            options.update(conf.get("options") or {})
            options.update({k: v for k, v in conf.items() if k not in _RESERVED})
        return cls(url=url, hosts=hosts, user=user, password=password, database=str(database),
                   options=options, extended=bool(settings["result_extended"]),
                   expires=settings.expires, failure_expires=settings.failure_expires,
                   chord_expires=settings.chord_expires, **values)

    def secrets(self) -> list[str]:
        """What to mask in free text (driver errors): the URL's secrets and the password."""
        from resultstore.masking import url_secrets

        return [*url_secrets(self.url), *([self.password] if self.password else [])]

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``MongoClient`` (never connects by itself)."""
        kwargs: dict[str, Any] = dict(self.options)
        kwargs["host"] = self.hosts if self.hosts is not None else self.url
        if self.user:
            kwargs["username"] = self.user
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def as_uri(self, include_password: bool = False) -> str:
        """The URL, its password masked unless asked for (also inside multi-host URLs)."""
        return self.url if include_password else mask_url(self.url)

    def __repr__(self) -> str:
        return (f"MongoConfig({self.as_uri()!r}, database={self.database!r}, "
                f"collections=({self.taskmeta_collection!r}, {self.groupmeta_collection!r}, "
                f"{self.chordmeta_collection!r}))")
