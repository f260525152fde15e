"""``cosmosdbsql://:<account key>@<host>:<port>``, read as Celery reads it.

The password is the account key (base64: percent-encode its ``+``, ``/`` and ``=``); port 443
(the default) means ``https``, any other port ``http`` (Celery's rule; the emulator listens on
8081 with HTTPS, so ``cosmosdbsql_scheme = "https"`` overrides it, ours).  Settings are
Celery's: ``cosmosdbsql_database_name`` (``celerydb``), ``cosmosdbsql_collection_name``
(``celerycol``), ``cosmosdbsql_consistency_level`` (``Session``),
``cosmosdbsql_max_retry_attempts`` (9) and ``cosmosdbsql_max_retry_wait_time`` (30 s) for
throttled (429) requests.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url

__all__ = ["CosmosConfig", "CONSISTENCY_LEVELS"]

CONSISTENCY_LEVELS = ("Strong", "BoundedStaleness", "Session", "Eventual", "ConsistentPrefix")


@dataclass(frozen=True)
class CosmosConfig:
    """Where and how to reach Cosmos DB (the fields of Celery's ``CosmosDBSQLBackend``)."""

    endpoint: str
    key: str = field(repr=False)
    database: str = "celerydb"
    collection: str = "celerycol"
    consistency_level: str = "Session"
    max_retry_attempts: int = 9
    max_retry_wait_time: int = 30
    #: TLS verification (``cosmosdbsql_verify``, ours): True, False or a CA bundle's path.
    verify: bool | str = True

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CosmosConfig:
        parts = urlsplit(url or "")
        if parts.scheme != "cosmosdbsql":
            raise ImproperlyConfigured(
                f"Not a Cosmos DB URL (scheme {parts.scheme!r}); use "
                f"cosmosdbsql://:<percent-encoded account key>@<account>.documents.azure.com:443")
        if parts.fragment or "@" in parts.path + parts.query or "#" in url:
            raise ImproperlyConfigured(
                "cosmosdbsql URL: a '/', '?', '#' or '@' in the account key must be "
                "percent-encoded (else part of it is read as the host).")
        try:
            port = parts.port or 443
        except ValueError:
            raise ImproperlyConfigured("cosmosdbsql URL: the port must be a number.") from None
        if not parts.hostname or not parts.password:
            raise ImproperlyConfigured("cosmosdbsql URL: Invalid URL (host and account key "
                                       "are required, as in Celery).")
        try:
            base64.b64decode(unquote(parts.password), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured("cosmosdbsql URL: the account key is not base64 (a '+' "
                                       "or '/' in it must be percent-encoded).") from None
        scheme = settings.get("cosmosdbsql_scheme") or ("https" if port == 443 else "http")
        level = str(settings.get("cosmosdbsql_consistency_level") or "Session")
        if level not in CONSISTENCY_LEVELS:
            raise ImproperlyConfigured(f"Unknown CosmosDB consistency level {level!r}")
        verify = settings.get("cosmosdbsql_verify")
        if verify is None:  # unset: verify (Settings.get answers None for unknown names)
            verify = True
        try:
            return cls(
                endpoint=f"{scheme}://{parts.hostname}:{port}",
                key=unquote(parts.password),
                database=str(settings.get("cosmosdbsql_database_name") or "celerydb"),
                collection=str(settings.get("cosmosdbsql_collection_name") or "celerycol"),
                consistency_level=level,
                max_retry_attempts=int(settings.get("cosmosdbsql_max_retry_attempts") or 9),
                max_retry_wait_time=int(settings.get("cosmosdbsql_max_retry_wait_time") or 30),
                verify=verify if isinstance(verify, str) else bool(verify),
            )
        except (TypeError, ValueError):
            raise ImproperlyConfigured("cosmosdbsql_max_retry_attempts and "
                                       "cosmosdbsql_max_retry_wait_time must be numbers.") from None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of the sync and asyncio ``CosmosClient``: Celery's retries of
        throttled requests; connection retries are left to core's policy
        (``result_backend_always_retry``)."""
        options: dict[str, Any] = {
            "consistency_level": self.consistency_level,
            "retry_throttle_total": self.max_retry_attempts,
            "retry_throttle_backoff_max": self.max_retry_wait_time,
            "retry_total": 0, "retry_connect": 0, "retry_read": 0, "retry_status": 0,
        }
        if self.verify is not True:
            options["connection_verify"] = self.verify
        return options

    def secrets(self) -> list[str]:
        return [self.key]

    def as_uri(self, include_password: bool = False) -> str:
        """The URL, the account key masked unless asked for."""
        host = self.endpoint.split("://", 1)[1]
        uri = f"cosmosdbsql://:{quote(self.key, safe='')}@{host}/{self.database}/{self.collection}"
        return uri if include_password else mask_url(uri)

    def __repr__(self) -> str:
        return (f"CosmosConfig({self.as_uri()!r}, consistency_level="
                f"{self.consistency_level!r})")
