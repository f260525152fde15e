"""``azureblockblob://`` URL and Celery's ``azureblockblob_*`` settings -> :class:`AzureConfig`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured

__all__ = ["AzureConfig", "redact_connection_string", "PREFIX"]

PREFIX = "azureblockblob://"
#: Credential classes Celery accepts as ``azureblockblob://<Credential>@<account URL>``.
CREDENTIALS = ("DefaultAzureCredential", "ManagedIdentityCredential")
_SECRET_KEYS = frozenset({"accountkey", "sharedaccesssignature"})
_SIG = re.compile(r"([?&]sig=)[^&;#]*", re.IGNORECASE)


def redact_connection_string(text: str, mask: str = "**") -> str:
    """Mask ``AccountKey``, ``SharedAccessSignature`` and ``sig=`` values (as Celery)."""
    parts = []
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip().lower() in _SECRET_KEYS:
            part = f"{key}={mask}"
        elif value:
            value = _SIG.sub(lambda match: match.group(1) + mask, value)
            part = f"{key}={value}"
        parts.append(part)
    return ";".join(parts)


@dataclass(frozen=True)
class AzureConfig:
    """Connection and layout (Celery's names and defaults); secrets never in ``repr``."""

    #: A connection string, or ``<Credential>@<account URL>``.
    connection: str = field(repr=False)
    container_name: str = "celery"
    #: Prepended verbatim to every key, as Celery's ``azureblockblob_base_path``.
    base_path: str = ""
    connection_timeout: float = 20
    read_timeout: float = 120
    retry_initial_backoff_sec: float = 2
    retry_increment_base: float = 2
    retry_max_attempts: int = 3
    threadpool_maxsize: int = 10

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> AzureConfig:
        connection = url[len(PREFIX):] if url.startswith(PREFIX) else ""
        if not connection:
            raise ImproperlyConfigured(
                "Invalid URL: use azureblockblob://<connection string> or "
                "azureblockblob://DefaultAzureCredential@https://<account>.blob.core.windows.net")

        def number(name: str, default: float) -> float:
            value = settings.get(f"azureblockblob_{name}")
            try:
                return float(default if value is None else value)
            except (TypeError, ValueError):
                raise ImproperlyConfigured(f"azureblockblob_{name} must be a number") from None

        container = str(settings.get("azureblockblob_container_name") or "celery")
        if not 3 <= len(container) <= 63:
            raise ImproperlyConfigured(f"Container names are 3-63 characters, got {container!r}.")
        return cls(connection=connection, container_name=container,
                   base_path=str(settings.get("azureblockblob_base_path") or ""),
                   connection_timeout=number("connection_timeout", 20),
                   read_timeout=number("read_timeout", 120),
                   retry_initial_backoff_sec=number("retry_initial_backoff_sec", 2),
                   retry_increment_base=number("retry_increment_base", 2),
                   retry_max_attempts=int(number("retry_max_attempts", 3)),
                   threadpool_maxsize=int(number("threadpool_maxsize", 10)))

    @property
    def credential(self) -> tuple[str, str] | None:
        """``(credential class, account URL)`` for the token forms, else ``None``."""
        name, sep, account_url = self.connection.partition("@")
        return (name, account_url) if sep and name in CREDENTIALS else None

    def as_uri(self, include_password: bool = False) -> str:
        if include_password:
            return PREFIX + self.connection
        return PREFIX + redact_connection_string(self.connection)
