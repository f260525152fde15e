"""``s3://`` URL and Celery's ``s3_*`` settings -> :class:`S3Config`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resultstore.blob import bucket_url_options
from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured

__all__ = ["S3Config"]


@dataclass(frozen=True)
class S3Config:
    """Where results live and how to reach them (secrets never in ``repr``)."""

    bucket: str
    #: Prepended verbatim to every key, as Celery's ``s3_base_path``.
    base_path: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    threadpool_maxsize: int = 10
    #: ``s3_client_config``: botocore ``Config`` arguments (timeouts, retries) over ours.
    client_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> S3Config:
        """Celery's settings, overridden by ``s3://bucket/base/path?s3_region=...`` when given.

        Celery's own S3Backend ignores the URL (``result_backend = 's3://'``), so a bare
        ``s3://`` behaves exactly as Celery.
        """
        merged = settings.replace(**bucket_url_options(url, "s3"))

        def text(name: str) -> str | None:
            value = merged.get(name)
            return None if value in (None, "") else str(value)

        bucket = text("s3_bucket")
        if not bucket:
            raise ImproperlyConfigured("Missing bucket name: set s3_bucket (or use s3://bucket/).")
        try:
            pool = int(merged.get("s3_threadpool_maxsize") or 10)
        except ValueError:
            raise ImproperlyConfigured("s3_threadpool_maxsize must be an integer") from None
        return cls(bucket=bucket, base_path=text("s3_base_path") or "",
                   endpoint_url=text("s3_endpoint_url"), region=text("s3_region"),
                   access_key_id=text("s3_access_key_id"),
                   secret_access_key=text("s3_secret_access_key"), threadpool_maxsize=pool,
                   client_config=dict(merged.get("s3_client_config") or {}))

    def as_uri(self) -> str:
        """``s3://bucket/base_path`` plus the endpoint when not AWS's; never credentials."""
        uri = f"s3://{self.bucket}/{self.base_path}"
        return f"{uri}?s3_endpoint_url={self.endpoint_url}" if self.endpoint_url else uri
