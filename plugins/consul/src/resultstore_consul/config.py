"""``consul://host:port/path`` and ``consul_*`` settings -> :class:`ConsulConfig`.

Celery's ``ConsulBackend`` reads the URL with kombu's ``parse_url``: the host, the port and
the path (``virtual_host``), which becomes a key prefix ``<path>/``; ``one_client=1`` is
accepted (one client is what resultstore always keeps).  Celery talks plain ``http`` with
``consistency='consistent'`` reads.  resultstore reads the URL the same way (port ``8500``
unless given) and adds options of its own (query parameters or ``consul_*`` settings; the
URL wins): ``ssl``, ``timeout``, ``max_connections``, ``token`` (an ACL token, sent as
``X-Consul-Token`` and never shown), ``consistency`` and ``dc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.options import flag, positive_number, query_options, url_port

__all__ = ["ConsulConfig"]

DEFAULT_HOST, DEFAULT_PORT = "localhost", 8500
_OPTIONS = ("ssl", "timeout", "max_connections", "token", "consistency", "dc", "one_client",
            "watch")
_CONSISTENCY = ("default", "consistent", "stale")


@dataclass(frozen=True)
class ConsulConfig:
    """Where the results live (the ACL token never appears in ``repr``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Celery's ``path``: keys are ``<path>/<key>`` when set.
    path: str | None = None
    ssl: bool = False
    timeout: float = 30.0
    max_connections: int = 20
    token: str | None = field(default=None, repr=False)
    #: Read consistency mode (Celery's: ``consistent``).
    consistency: str = "consistent"
    dc: str | None = None
    #: Push wake-ups through blocking queries (``False``: waits poll).
    watch: bool = True

    @classmethod
    def from_url(cls, url: str | None, settings: Settings) -> ConsulConfig:
        url = url or "consul://"
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("consul", "http", "https"):
            raise ImproperlyConfigured(
                f"Not a consul:// URL (scheme {scheme!r}); use consul://host:8500/path.")
        parts = urlsplit("http://" + rest)
        if parts.username or parts.password:
            raise ImproperlyConfigured(
                "consul:// URLs carry no credentials; set consul_token (an ACL token) instead.")
        port = url_port("consul", parts)
        options: dict[str, Any] = {name: settings.get(f"consul_{name}") for name in _OPTIONS}
        query_options("consul", parts.query, _OPTIONS, options)
        path = unquote(parts.path)[1:] if parts.path.startswith("/") else unquote(parts.path)
        values: dict[str, Any] = {"host": unquote(parts.hostname or "") or DEFAULT_HOST,
                                  "port": int(port or DEFAULT_PORT), "path": path or None,
                                  "ssl": scheme == "https"}
        for name in ("ssl", "watch"):
            if options[name] is not None:
                values[name] = flag("consul", name, options[name])
        if options["timeout"] is not None:
            values["timeout"] = positive_number("consul", "timeout", options["timeout"], float)
        if options["max_connections"] is not None:
            values["max_connections"] = positive_number("consul", "max_connections",
                                                          options["max_connections"], int)
        for name in ("token", "dc"):
            if options[name]:
                values[name] = str(options[name])
        if options["consistency"] is not None:
            if options["consistency"] not in _CONSISTENCY:
                raise ImproperlyConfigured(f"consul consistency must be one of {_CONSISTENCY}, "
                                           f"got {options['consistency']!r}")
            values["consistency"] = options["consistency"]
        return cls(**values)

    @property
    def prefix(self) -> str:
        """What precedes every key (Celery's ``f'{path}/{key}'``)."""
        return "" if self.path is None else f"{self.path}/"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}"

    def as_uri(self, include_password: bool = False) -> str:
        """``consul://host:port/path``; the token is a setting and never part of it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = quote(self.path, safe="/") if self.path else ""
        query = "?ssl=true" if self.ssl else ""
        return f"consul://{host}:{self.port}/{path}{query}"
