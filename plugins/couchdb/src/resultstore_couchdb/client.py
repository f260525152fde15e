"""The HTTP clients: httpx with Basic auth, a per-process pool, one TLS context, no cookie jar.

Shared by the store (:class:`Client`), its asyncio twin (:class:`AsyncClient`, one per event
loop) and the ``_changes`` reader.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

from resultstore.errors import ImproperlyConfigured

from .config import CouchDBConfig

__all__ = ["Client", "AsyncClient", "client_options", "tls_context"]


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing: requests carry Basic auth, never a session cookie.

    httpx would otherwise parse every response's URL into the standard library's URL caches
    to match cookies, for nothing.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _WithoutCookies:
    """Mixed into the httpx clients: ``cookies`` is the jar that keeps nothing."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("resultstore-couchdb clients keep no cookies (they send Basic auth)")


class Client(_WithoutCookies, httpx.Client):
    """``httpx.Client`` without cookie handling (see :class:`_NoCookies`)."""


class AsyncClient(_WithoutCookies, httpx.AsyncClient):
    """``httpx.AsyncClient`` without cookie handling (see :class:`_NoCookies`)."""


@functools.lru_cache(maxsize=8)
def tls_context(ca_certs: str | None = None) -> ssl.SSLContext:
    """One verifying TLS context per CA bundle and process, shared by every client.

    httpx builds (and loads the CA bundle into) a new context for each client otherwise,
    which costs more than a request; the asyncio twin opens a client per event loop.
    ``None``: certifi's bundle, as httpx; else the given PEM file.
    """
    if ca_certs is None:
        return httpx.create_ssl_context()
    try:
        return ssl.create_default_context(cafile=ca_certs)
    except (OSError, ssl.SSLError) as exc:
        raise ImproperlyConfigured(f"couchdb ca_certs {ca_certs!r} is not a readable PEM CA "
                                   f"bundle ({type(exc).__name__}: {exc})") from None


def client_options(config: CouchDBConfig) -> dict[str, Any]:
    """``httpx.Client``/``AsyncClient`` arguments: base URL, Basic auth, timeouts, pool, TLS."""
    return {"base_url": config.base_url, "auth": config.auth,
            "verify": tls_context(config.ca_certs),
            "timeout": httpx.Timeout(config.timeout),
            "limits": httpx.Limits(max_connections=config.max_connections,
                                   max_keepalive_connections=config.max_connections),
            "headers": {"Accept": "application/json"}}
