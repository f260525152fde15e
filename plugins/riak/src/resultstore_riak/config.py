"""``riak://host:port/bucket`` and ``riak_backend_settings`` -> :class:`RiakConfig`.

As Celery's former ``RiakBackend`` (Celery 4.x, removed in 5.x): the URL's host, port and
bucket (path, ``/`` stripped) win over ``riak_backend_settings`` (a dict: ``host``,
``port``, ``bucket``, ``protocol``); the bucket defaults to ``celery`` and must be ASCII.

Celery spoke protocol buffers (``protocol='pbc'``, port 8087) through the ``riak`` client,
which does not run on Python 3.7+.  resultstore speaks Riak's HTTP API (default port 8098):
``protocol='pbc'`` or port 8087 without ``protocol='http'`` is a configuration error that
says so.  Options of ours (``riak_backend_settings`` keys, or URL query parameters, which
win): ``bucket_type`` (default ``default``), ``ssl``, ``timeout``, ``max_connections``,
``conditional_writes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.options import flag, positive_number, query_options, url_port

__all__ = ["RiakConfig"]

DEFAULT_HOST, DEFAULT_PORT, DEFAULT_BUCKET = "localhost", 8098, "celery"
PBC_PORT = 8087
_OPTIONS = ("bucket_type", "ssl", "timeout", "max_connections", "conditional_writes")
_CELERY = ("host", "port", "bucket", "protocol")


def _ascii(name: str, value: str) -> str:
    if not value or not value.isascii() or "/" in value:
        raise ImproperlyConfigured(
            f"Riak {name} names must be composed of ASCII characters only (and no '/'), "
            f"not: {value!r}")
    return value


@dataclass(frozen=True)
class RiakConfig:
    """Where the results live."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    bucket: str = DEFAULT_BUCKET
    bucket_type: str = "default"
    ssl: bool = False
    timeout: float = 30.0
    max_connections: int = 20
    #: ``None``: native chords and atomic keep-SUCCESS writes iff the bucket type is
    #: strongly consistent (asked from the server); ``True``/``False`` decide without asking.
    conditional_writes: bool | None = None

    @classmethod
    def from_url(cls, url: str | None, settings: Settings) -> RiakConfig:
        url = url or "riak://"
        scheme, sep, rest = url.partition("://")
        if not sep or scheme != "riak":
            raise ImproperlyConfigured(f"Not a riak:// URL (scheme {scheme!r}).")
        parts = urlsplit("http://" + rest)
        if parts.username or parts.password:
            raise ImproperlyConfigured("riak:// URLs carry no credentials (Riak's HTTP API has "
                                       "no authentication; put a TLS proxy in front).")
        port = url_port("riak", parts)
        conf = settings.get("riak_backend_settings")
        if conf is None:
            conf = {}
        if not isinstance(conf, Mapping):
            raise ImproperlyConfigured("Riak backend settings should be grouped in a dict")
        unknown = set(conf) - set(_CELERY) - set(_OPTIONS)
        if unknown:
            raise ImproperlyConfigured(f"Unknown riak_backend_settings keys {sorted(unknown)}: "
                                       f"known are {', '.join(_CELERY + _OPTIONS)}.")
        options: dict[str, Any] = {name: conf.get(name) for name in _OPTIONS}
        query_options("riak", parts.query, _OPTIONS, options)
        protocol = str(conf.get("protocol") or "").lower() or None
        port_number = int(port or conf.get("port") or DEFAULT_PORT)
        if protocol not in (None, "http", "https"):
            raise ImproperlyConfigured(
                f"riak protocol {protocol!r}: resultstore-riak speaks Riak's HTTP API only "
                f"(port 8098 by default); set protocol 'http' and the HTTP port.")
        if port_number == PBC_PORT and protocol is None:
            raise ImproperlyConfigured(
                "riak port 8087 is Riak's protocol-buffers port (Celery's former default): "
                "resultstore-riak speaks Riak's HTTP API, port 8098 by default. Use "
                "riak://host:8098/bucket, or set riak_backend_settings={'protocol': 'http'} "
                "if your HTTP listener really is on 8087.")
        bucket = unquote(parts.path).strip("/") or str(conf.get("bucket") or DEFAULT_BUCKET)
        values: dict[str, Any] = {
            "host": unquote(parts.hostname or "") or str(conf.get("host") or DEFAULT_HOST),
            "port": port_number, "bucket": _ascii("bucket", bucket),
            "ssl": protocol == "https"}
        if options["bucket_type"]:
            values["bucket_type"] = _ascii("bucket type", str(options["bucket_type"]))
        if options["ssl"] is not None:
            values["ssl"] = flag("riak", "ssl", options["ssl"])
        if options["conditional_writes"] is not None:
            values["conditional_writes"] = flag("riak", "conditional_writes",
                                                options["conditional_writes"])
        if options["timeout"] is not None:
            values["timeout"] = positive_number("riak", "timeout", options["timeout"], float)
        if options["max_connections"] is not None:
            values["max_connections"] = positive_number("riak", "max_connections",
                                                          options["max_connections"], int)
        return cls(**values)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}"

    @property
    def bucket_path(self) -> str:
        """``/types/<type>/buckets/<bucket>`` (the ``default`` type is Riak 1.x's ``/buckets``)."""
        return f"/types/{quote(self.bucket_type, safe='')}/buckets/{quote(self.bucket, safe='')}"

    def as_uri(self, include_password: bool = False) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        options = [f"bucket_type={quote(self.bucket_type)}"] if self.bucket_type != "default" else []
        options += ["ssl=true"] if self.ssl else []
        query = "?" + "&".join(options) if options else ""
        return f"riak://{host}:{self.port}/{quote(self.bucket, safe='')}{query}"
