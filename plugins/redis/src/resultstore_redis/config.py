"""URL + Celery settings -> :class:`RedisOptions` (what a redis-py client needs).

Follows ``celery.backends.redis.RedisBackend``: the ``redis_*`` settings give
defaults, the URL overrides them, and URL query parameters override both.
Schemes:

* ``redis://[user:password@]host[:port][/db][?option=value...]``
* ``rediss://...?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem`` (TLS)
* ``socket:///path/to/redis.sock?virtual_host=db`` (Celery's ``redis+socket://``)
* ``sentinel://[:password@]host:port[/db];sentinel://host2:port2`` with the
  transport options ``master_name`` (required), ``sentinel_kwargs`` and
  ``min_other_sentinels``
* ``rediscluster://[:password@]host:port;rediscluster://host2:port2`` (Redis
  Cluster; ``redis+cluster://`` reaches the ``redis`` entry point as
  ``cluster://...`` and is accepted too)
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.connection

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_text, mask_url, split_urls, url_password, url_secrets
from resultstore.registry import import_object

__all__ = ["RedisOptions", "parse_options", "REDIS_DEFAULTS"]

Kind = Literal["single", "sentinel", "cluster"]

#: Celery's defaults for the ``redis_*`` settings (``celery/app/defaults.py``).
REDIS_DEFAULTS: dict[str, Any] = {
    "redis_host": "localhost",
    "redis_port": 6379,
    "redis_db": 0,
    "redis_password": None,
    "redis_username": None,
    "redis_max_connections": None,
    "redis_socket_timeout": 120.0,
    "redis_socket_connect_timeout": None,
    "redis_retry_on_timeout": False,
    "redis_socket_keepalive": False,
    "redis_backend_use_ssl": None,
    "redis_backend_health_check_interval": None,
    "redis_client_name": None,
    "redis_backend_credential_provider": None,
}

_SCHEMES: dict[str, Kind] = {
    "redis": "single", "rediss": "single", "socket": "single", "unix": "single",
    "sentinel": "sentinel", "rediscluster": "cluster", "cluster": "cluster",
}
_SSL_KEYS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_CERT_REQS = {
    "CERT_REQUIRED": ssl.CERT_REQUIRED, "required": ssl.CERT_REQUIRED,
    "CERT_OPTIONAL": ssl.CERT_OPTIONAL, "optional": ssl.CERT_OPTIONAL,
    "CERT_NONE": ssl.CERT_NONE, "none": ssl.CERT_NONE,
}
#: Keyword arguments that belong to the pool, not to each connection.
_POOL_KEYS = {"max_connections"}


@dataclass(frozen=True)
class RedisOptions:
    """Everything needed to open sync and asyncio clients for one deployment.

    ``repr`` shows the masked URL, never ``params``, ``sentinel_kwargs`` or ``url``
    (they hold the password).
    """

    kind: Kind
    #: Connection keyword arguments (host/port/db/password/timeouts/ssl_* ...).
    params: dict[str, Any] = field(repr=False)
    #: TLS on every connection.
    ssl: bool = False
    #: Unix socket path (``socket://``), else ``None``.
    unix_path: str | None = None
    #: Sentinel addresses or cluster startup nodes.
    hosts: list[tuple[str, int]] = field(default_factory=list)
    master_name: str | None = None
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict, repr=False)
    min_other_sentinels: int = 0
    max_connections: int | None = None
    #: Extra exception classes treated as transient (``additional_connection_errors``).
    extra_errors: tuple[type[BaseException], ...] = ()
    #: redis-py retry count for one command (stale pooled connections); ``retry_policy``.
    retries: int = 1
    retry_backoff_cap: float = 0.1
    #: ``result_chord_ordered``: ZADD (True) or RPUSH (False) chord parts.
    chord_ordered: bool = True
    #: Cluster only: hash-tag chord keys so that chords work (``cluster_hash_tags``).
    cluster_hash_tags: bool = False
    #: The URL with the password masked, for ``as_uri``.
    masked_url: str = ""
    #: The URL as given (password included), for ``as_uri(include_password=True)``.
    url: str = field(default="", repr=False)


def _setting(settings: Mapping[str, Any], name: str) -> Any:
    value = settings.get(name)
    return REDIS_DEFAULTS.get(name) if value is None else value


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _connection_keywords(connection_class: type) -> set[str]:
    names: set[str] = set()
    for klass in connection_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(param.name)
    names.discard("self")
    return names


def _base_params(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Connection parameters from the ``redis_*`` settings (before the URL)."""
    socket_timeout = _setting(settings, "redis_socket_timeout")
    connect_timeout = _setting(settings, "redis_socket_connect_timeout")
    params: dict[str, Any] = {
        "host": _setting(settings, "redis_host"),
        "port": int(_setting(settings, "redis_port")),
        "db": int(_setting(settings, "redis_db")),
        "password": _setting(settings, "redis_password"),
        "socket_timeout": None if socket_timeout is None else float(socket_timeout),
        "socket_connect_timeout": None if connect_timeout is None else float(connect_timeout),
        "retry_on_timeout": bool(_setting(settings, "redis_retry_on_timeout")),
        "client_name": _setting(settings, "redis_client_name"),
    }
    if username := _setting(settings, "redis_username"):
        params["username"] = username
    if health := _setting(settings, "redis_backend_health_check_interval"):
        params["health_check_interval"] = int(health)
    if _setting(settings, "redis_socket_keepalive"):
        params["socket_keepalive"] = True
    if provider := _setting(settings, "redis_backend_credential_provider"):
        _use_credential_provider(params, provider)
    return params


def _use_credential_provider(params: dict[str, Any], provider: Any) -> None:
    if isinstance(provider, str):
        try:
            provider = import_object(provider)()
        except Exception as exc:
            raise ImproperlyConfigured(f"Cannot load credential provider {provider!r}: {exc}") from exc
    if not isinstance(provider, redis.CredentialProvider):
        raise ImproperlyConfigured(
            "Credential provider is not an instance of a redis.CredentialProvider or a subclass.")
    params["credential_provider"] = provider
    params.pop("username", None)
    params.pop("password", None)


def _cert_reqs(value: Any) -> ssl.VerifyMode:
    if value is None:
        return ssl.CERT_REQUIRED  # secure default (Celery refuses a missing value instead)
    if isinstance(value, ssl.VerifyMode):
        return value
    if isinstance(value, int) and value in (ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED):
        return ssl.VerifyMode(value)
    if isinstance(value, str) and value in _CERT_REQS:
        return _CERT_REQS[value]
    raise ImproperlyConfigured(
        f"ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE, got {value!r}.")


def _parse_one(url: str, defaults: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """``(scheme, params, query)`` for one URL, as Celery's ``_params_from_url``."""
    try:
        parts = urlsplit(url)
        if (password := url_password(url)) is not None and password != parts.password:
            # urlsplit ended the password at a / ? or #: refuse, never connect with a piece
            raise ImproperlyConfigured(
                f"Malformed Redis URL {mask_url(url)!r}: the password holds '/', '?' or '#'; "
                f"percent-encode it (urllib.parse.quote(password, safe='')).")
        port = parts.port
    except ValueError as exc:
        if isinstance(exc, ImproperlyConfigured):
            raise
        reason = mask_text(str(exc), url_secrets(url))
        raise ImproperlyConfigured(f"Malformed Redis URL {mask_url(url)!r}: {reason}") from None
    scheme = parts.scheme.lower()
    params = dict(defaults)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.hostname:
        params["host"] = unquote(parts.hostname)
    if port:
        params["port"] = port
    if parts.username:
        params["username"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if scheme in {"socket", "unix"}:
        params["path"] = unquote(parts.path)
        db = query.pop("virtual_host", None) or query.pop("db", None)
        if db is not None:
            params["db"] = db
    else:
        query.pop("virtual_host", None)
        path = parts.path.strip("/")
        if path:
            params["db"] = path
    try:
        params["db"] = int(str(params.get("db") or 0).strip("/") or 0)
    except ValueError:
        raise ImproperlyConfigured(f"Redis database must be a number in {mask_url(url)!r}.") from None
    if scheme == "redis" and any(key in query for key in _SSL_KEYS):
        raise ImproperlyConfigured(
            "SSL connection parameters were given but the URL scheme is redis://; "
            "a Redis TLS URL uses rediss://.")
    for key in _SSL_KEYS:
        if key in query:
            params[key] = unquote(query.pop(key))
    if provider := query.pop("credential_provider", None):
        _use_credential_provider(params, provider)
    for key, value in query.items():
        parser = cast("Callable[[str], Any] | None",
                      redis.connection.URL_QUERY_ARGUMENT_PARSERS.get(key))
        try:
            params[key] = parser(value) if parser else value
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"Invalid value for {key!r} in the Redis URL.") from None
    return scheme, params, query


def parse_options(url: str, settings: Mapping[str, Any] | None = None) -> RedisOptions:
    """Build :class:`RedisOptions` from a backend URL and Celery-named settings."""
    settings = settings if settings is not None else Settings()
    transport = dict(settings.get("result_backend_transport_options") or {})
    url = url or "redis://"
    scheme = url.partition("://")[0].lower()
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise ImproperlyConfigured(
            f"resultstore-redis serves redis://, rediss://, socket://, sentinel:// and "
            f"rediscluster:// URLs, got {scheme}://.")
    params = _base_params(settings)
    use_ssl = scheme == "rediss"
    ssl_setting = _setting(settings, "redis_backend_use_ssl")
    if ssl_setting:
        if not isinstance(ssl_setting, Mapping):
            raise ImproperlyConfigured("redis_backend_use_ssl must be a dict of ssl_* options.")
        params.update(ssl_setting)
        use_ssl = True

    hosts: list[tuple[str, int]] = []
    if kind == "single":
        _, params, _ = _parse_one(url, params)
    else:
        chunks = [c for c in split_urls(url) if c.strip()]  # a ';' in a password stays
        parsed = [_parse_one(c, params) for c in chunks]
        if any(p[0] != scheme for p in parsed):
            raise ImproperlyConfigured(f"Every ';'-separated part must use {scheme}://.")
        hosts = [(p[1]["host"], int(p[1]["port"])) for p in parsed]
        first = parsed[0][1]
        params = {**first}
        params.pop("host", None)
        params.pop("port", None)
        use_ssl = use_ssl or any(k in params for k in _SSL_KEYS)
    if _as_bool(params.pop("ssl", False)):
        use_ssl = True

    if use_ssl:
        params["ssl_cert_reqs"] = _cert_reqs(params.get("ssl_cert_reqs"))
    elif any(k in params for k in _SSL_KEYS):
        raise ImproperlyConfigured("ssl_* options need rediss:// or redis_backend_use_ssl.")

    max_connections = params.pop("max_connections", None) or _setting(settings, "redis_max_connections")
    unix_path = params.pop("path", None) if kind == "single" and scheme in {"socket", "unix"} else None
    if unix_path is not None:
        for key in ("host", "port", "socket_connect_timeout", "socket_keepalive"):
            params.pop(key, None)
        if use_ssl:
            raise ImproperlyConfigured("TLS is not available over a unix socket.")
    if kind == "cluster" and params.pop("db", 0):
        raise ImproperlyConfigured("Redis Cluster has only database 0; drop the /db from the URL.")
    _check_keywords(kind, params, use_ssl, unix_path is not None)

    retries, cap = _retry_policy(transport.get("retry_policy"))
    master_name = transport.get("master_name")
    if kind == "sentinel" and not master_name:
        raise ImproperlyConfigured(
            "sentinel:// needs result_backend_transport_options={'master_name': '<service>'}.")
    return RedisOptions(
        kind=kind, params=params, ssl=use_ssl, unix_path=unix_path, hosts=hosts,
        master_name=master_name,
        sentinel_kwargs=dict(transport.get("sentinel_kwargs") or {}),
        min_other_sentinels=int(transport.get("min_other_sentinels", 0) or 0),
        max_connections=int(max_connections) if max_connections else None,
        extra_errors=_extra_errors(transport.get("additional_connection_errors")),
        retries=retries, retry_backoff_cap=cap,
        chord_ordered=_as_bool(transport.get("result_chord_ordered",
                                             settings.get("result_chord_ordered", True))),
        cluster_hash_tags=_as_bool(transport.get("cluster_hash_tags", False)),
        masked_url=mask_url(url), url=url,
    )


def _check_keywords(kind: Kind, params: dict[str, Any], use_ssl: bool, unix: bool) -> None:
    if unix:
        klass: type = redis.connection.UnixDomainSocketConnection
    else:
        klass = redis.connection.SSLConnection if use_ssl else redis.connection.Connection
    allowed = _connection_keywords(klass) | _POOL_KEYS
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown Redis connection option(s) {unknown} (from the URL query or "
            f"redis_backend_use_ssl); see redis-py's connection arguments.")


def _retry_policy(policy: Any) -> tuple[int, float]:
    """redis-py per-command retries: ``retry_policy['max_retries']`` or one quick retry."""
    if not policy:
        return 1, 0.1
    if not isinstance(policy, Mapping):
        raise ImproperlyConfigured("transport option retry_policy must be a dict.")
    retries = int(policy.get("max_retries", 1) or 0)
    cap = float(policy.get("interval_max", 1.0) or 0.0)
    return retries, cap


def _extra_errors(value: Any) -> tuple[type[BaseException], ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, type)) else list(value)
    found: list[type[BaseException]] = []
    for item in items:
        try:
            resolved = import_object(item) if isinstance(item, str) else item
        except Exception as exc:
            raise ImproperlyConfigured(
                f"additional_connection_errors: cannot import {item!r}: {exc}") from exc
        if not (isinstance(resolved, type) and issubclass(resolved, BaseException)):
            raise ImproperlyConfigured(
                f"additional_connection_errors: {item!r} is not an exception class.")
        found.append(resolved)
    return tuple(found)
