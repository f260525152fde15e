"""``gs://bucket/path`` URL and Celery's ``gcs_*`` settings -> :class:`GCSConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from resultstore.blob import bucket_url_options
from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured

__all__ = ["GCSConfig"]


@dataclass(frozen=True)
class GCSConfig:
    """Where results live (Celery's GCS settings)."""

    bucket: str
    project: str
    #: Without surrounding ``/``; object names are ``<base_path>/<key>`` (as Celery).
    base_path: str = ""
    #: ``gcs_ttl``: when set, every object's ``customTime`` is now + ttl (Celery's meaning).
    ttl: float = 0.0
    threadpool_maxsize: int = 10
    #: ``gcs_timeout``: seconds per HTTP request (google-cloud-storage's default is 60).
    timeout: float = 60.0
    #: ``gcs_retry_deadline``: seconds the client library retries one call (its default: 120).
    retry_deadline: float = 120.0

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> GCSConfig:
        """Settings overridden by ``gs://bucket/base/path?gcs_project=...`` (as Celery's GCSBackend)."""
        merged = settings.replace(**bucket_url_options(url, "gcs"))
        bucket = str(merged.get("gcs_bucket") or "")
        if not bucket:
            raise ImproperlyConfigured("Missing bucket name: specify gcs_bucket (or gs://bucket/).")
        project = str(merged.get("gcs_project") or "")
        if not project:
            raise ImproperlyConfigured("Missing project: specify gcs_project (or ?gcs_project=).")
        try:
            ttl = float(merged.get("gcs_ttl") or 0)
            pool = int(merged.get("gcs_threadpool_maxsize") or 10)
            timeout = float(merged.get("gcs_timeout") or 60.0)
            deadline = float(merged.get("gcs_retry_deadline") or 120.0)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"gcs_ttl / gcs_threadpool_maxsize / gcs_timeout / gcs_retry_deadline: {exc}") from None
        if ttl < 0:
            raise ImproperlyConfigured(f"Invalid ttl: {ttl} must be greater than or equal to 0")
        return cls(bucket=bucket, project=project,
                   base_path=str(merged.get("gcs_base_path") or "").strip("/"), ttl=ttl,
                   threadpool_maxsize=pool, timeout=timeout, retry_deadline=deadline)

    @property
    def prefix(self) -> str:
        """What precedes each key in an object name."""
        return f"{self.base_path}/" if self.base_path else ""

    def as_uri(self) -> str:
        return f"gs://{self.bucket}/{self.base_path}?gcs_project={self.project}"
