"""``memcached://h1:11211;h2:11211/`` and ``cache_backend_options``, as Celery reads them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured

__all__ = ["CacheConfig", "MEMCACHED_SCHEMES", "DEFAULT_CLIENT_OPTIONS"]

#: Schemes served by memcached.  Celery 5.7 maps ``pylibmc`` to pymemcache too.
MEMCACHED_SCHEMES = ("memcached", "memcache", "pymemcache", "pylibmc")
#: Celery 5.7's client defaults: failed writes raise, an unresponsive server times out.
DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {"default_noreply": False, "connect_timeout": 5.0,
                                          "timeout": 5.0}
#: pylibmc-only options Celery drops (with a deprecation warning).
PYLIBMC_ONLY_OPTIONS = ("behaviors", "binary")
#: Celery's ``RetryingClient`` options; resultstore retries through its own policy instead.
RETRY_OPTIONS = ("retry_attempts", "retry_delay", "retry_for", "do_not_retry_for")


@dataclass(frozen=True)
class CacheConfig:
    """Scheme, servers and client options of one cache store."""

    scheme: str
    servers: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CacheConfig:
        """Parse ``scheme://servers/``; ``url`` empty means the ``cache_backend`` setting."""
        url = url or str(settings.get("cache_backend") or "")
        if url.startswith("cache+"):
            url = url[len("cache+"):]
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise ImproperlyConfigured(
                "The cache result backend needs a URL like 'cache+memcached://127.0.0.1:11211/' "
                "(or the cache_backend setting).")
        if scheme not in (*MEMCACHED_SCHEMES, "memory"):
            raise ImproperlyConfigured(
                f"Unknown cache backend {scheme!r}; use one of "
                f"{', '.join((*MEMCACHED_SCHEMES, 'memory'))}.")
        servers = tuple(s for s in rest.rstrip("/").split(";") if s)
        if scheme != "memory" and not servers:
            raise ImproperlyConfigured(f"No memcached server in {url!r}.")
        options = dict(settings.get("cache_backend_options") or {})
        for name in PYLIBMC_ONLY_OPTIONS:
            if options.pop(name, None) is not None:
                warnings.warn(f"cache_backend_options[{name!r}] is pylibmc-only and is ignored "
                              f"(as in Celery 5.7).", DeprecationWarning, stacklevel=3)
        for name in RETRY_OPTIONS:
            if options.pop(name, None) is not None:
                warnings.warn(f"cache_backend_options[{name!r}] is ignored: use "
                              f"result_backend_always_retry / result_backend_max_retries.",
                              UserWarning, stacklevel=3)
        return cls(scheme, servers, {**DEFAULT_CLIENT_OPTIONS, **options})

    def as_uri(self) -> str:
        """Celery's form: ``memcached://h1:11211;h2:11211/``."""
        return f"{self.scheme}://{';'.join(self.servers)}/"
