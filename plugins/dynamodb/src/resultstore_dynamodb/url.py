"""``dynamodb://key:secret@region:port/table?read=5&write=5&ttl_seconds=86400``, as Celery parses it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import MASK, mask_url, url_password

__all__ = ["DynamoDBConfig"]


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _int(query: dict[str, list[str]], name: str, default: int | None) -> int | None:
    if name not in query:
        return default
    try:
        return int(query[name][-1])
    except ValueError:
        raise ImproperlyConfigured(f"dynamodb URL: {name} must be an integer, "
                                   f"got {query[name][-1]!r}") from None


@dataclass(frozen=True)
class DynamoDBConfig:
    """Table, region/endpoint, credentials and capacity (Celery's ``DynamoDBBackend`` fields)."""

    table_name: str = "celery"
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    read_capacity_units: int = 1
    write_capacity_units: int = 1
    #: ``ttl_seconds`` from the URL: None = not given (resultstore uses result_expires),
    #: >= 0 = Celery's fixed item lifetime with table TTL enabled, < 0 = TTL disabled.
    ttl_seconds: int | None = None
    #: ``dynamodb_client_config``: botocore ``Config`` arguments (timeouts, retries) over ours.
    client_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DynamoDBConfig:
        """Celery's rules: a ``localhost``/IP host means a local endpoint in ``us-east-1``."""
        parts = urlsplit(url or "dynamodb://")
        if parts.scheme != "dynamodb":
            raise ImproperlyConfigured(f"Not a dynamodb:// URL (scheme {parts.scheme!r}).")
        if (written := url_password(url or "")) is not None and written != parts.password:
            raise ImproperlyConfigured(
                f"Malformed dynamodb URL {mask_url(url)!r}: the secret holds '/', '?' or '#'; "
                f"percent-encode it (urllib.parse.quote(secret, safe='')).")
        key = unquote(parts.username) if parts.username else None
        secret = unquote(parts.password) if parts.password else None
        if (key is None) != (secret is None):
            raise ImproperlyConfigured("dynamodb URL: give both the access key id and the secret.")
        host = parts.hostname or None
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("dynamodb URL: the port must be a number.") from None
        region, endpoint = host, None
        if host is not None and _is_local(host):
            endpoint, region = f"http://{host}:{port or 8000}", "us-east-1"
        endpoint = settings.get("dynamodb_endpoint_url") or endpoint
        query = parse_qs(parts.query)
        return cls(
            table_name=parts.path.strip("/") or "celery",
            region=region,
            endpoint_url=endpoint,
            access_key_id=key,
            secret_access_key=secret,
            read_capacity_units=_int(query, "read", 1) or 1,
            write_capacity_units=_int(query, "write", 1) or 1,
            ttl_seconds=_int(query, "ttl_seconds", None),
            client_config=dict(settings.get("dynamodb_client_config") or {}),
        )

    def as_uri(self, include_password: bool = False) -> str:
        """The URL with the secret masked unless asked for."""
        auth = ""
        if self.access_key_id:
            secret = self.secret_access_key if include_password else MASK
            auth = f"{self.access_key_id}:{secret}@"
        where = self.region or ""
        if self.endpoint_url:
            where = urlsplit(self.endpoint_url).netloc
        query = f"?ttl_seconds={self.ttl_seconds}" if self.ttl_seconds is not None else ""
        return f"dynamodb://{auth}{where}/{self.table_name}{query}"
