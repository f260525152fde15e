"""``azureblockblob://`` URL and Celery's ``azureblockblob_*`` settings -> :class:`AzureConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url

__all__ = ["AzureConfig", "PREFIX"]

PREFIX = "azureblockblob://"
#: Credential classes Celery accepts as ``azureblockblob://<Credential>@<account URL>``.
CREDENTIALS = ("DefaultAzureCredential", "ManagedIdentityCredential")


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
        return mask_url(PREFIX + self.connection)
