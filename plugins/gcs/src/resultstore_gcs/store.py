"""``GCSStore``: the object API of :class:`~resultstore.blob.BlobStore` on google-cloud-storage."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from datetime import datetime, timezone
from typing import Any

import google.auth.exceptions
import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from resultstore.blob import Blob, BlobInfo, BlobStore, PerProcess, PreconditionFailed
from resultstore.config import Settings
from resultstore.errors import BackendError, ImproperlyConfigured

from .config import GCSConfig

__all__ = ["GCSStore"]

_TRANSIENT_STATUS = frozenset({408, 429})
_VERSIONED_READ_ATTEMPTS = 50


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class GCSStore(BlobStore):
    """Results as objects named ``<gcs_base_path>/<celery key>`` (Celery's GCSBackend layout).

    The expiry is the object's ``customTime`` (what Celery's ``gcs_ttl`` sets), so a
    bucket lifecycle rule "Delete, daysSinceCustomTime" removes expired results natively.
    """

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        'the CA bundle google-cloud-storage verifies with (REQUESTS_CA_BUNDLE) and '
        'the endpoint host (STORAGE_EMULATOR_HOST when set)')

    settings_prefix = "gcs"

    def __init__(self, config: GCSConfig, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        super().__init__(config.prefix, settings, max_workers=config.threadpool_maxsize)
        self.config = config
        self._client: PerProcess[storage.Client] = PerProcess(self._make_client)
        #: The library's retry of one call, bounded by ``gcs_retry_deadline``; with its
        #: ``timeout`` (``gcs_timeout``) passed to every request.
        self._call: dict[str, Any] = {"retry": DEFAULT_RETRY.with_timeout(config.retry_deadline),
                                      "timeout": config.timeout}
        if config.ttl and not self._has_delete_rule():
            raise ImproperlyConfigured(
                f"Missing lifecycle rule to use gcs backend with ttl on bucket: {config.bucket}")
        self.configure_conditions()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> GCSStore:
        return cls(GCSConfig.from_url(url, settings), settings)

    # -- client ------------------------------------------------------------
    def _make_client(self) -> storage.Client:
        client = storage.Client(project=self.config.project)
        size = self.max_workers
        # reconnects on connection errors only: a read timeout is the library's retry to
        # handle, within ``gcs_retry_deadline`` (urllib3 would retry it 3 more times)
        retries = urllib3.util.Retry(total=3, read=0, redirect=0, status=0, raise_on_status=False)
        adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size,
                                                max_retries=retries)
        for scheme in ("https://", "http://"):
            client._http.mount(scheme, adapter)
        return client

    @property
    def client(self) -> storage.Client:
        """The storage client of this process (rebuilt after fork)."""
        return self._client.get()

    @property
    def bucket(self) -> storage.Bucket:
        return self.client.bucket(self.config.bucket)

    def _has_delete_rule(self) -> bool:
        bucket = self.bucket
        bucket.reload(**self._call)
        return any(rule["action"]["type"] == "Delete" for rule in bucket.lifecycle_rules)

    def probe_key(self) -> Hashable:
        return (type(self), os.environ.get("STORAGE_EMULATOR_HOST"), self.config.project,
                self.config.bucket)

    # -- object API ------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        for _ in range(_VERSIONED_READ_ATTEMPTS):
            blob = self.bucket.blob(name)
            options: dict[str, Any] = {}
            try:
                if need_version:  # pin the download to the generation we report
                    meta = self.bucket.get_blob(name, **self._call)
                    if meta is None:
                        return None
                    options["if_generation_match"] = meta.generation
                data = blob.download_as_bytes(**self._call, **options)
            except api_exceptions.NotFound:
                if not need_version:
                    return None
                continue  # deleted between the metadata and the download: look again
            except api_exceptions.PreconditionFailed:
                continue  # replaced between the metadata and the download: look again
            version = options.get("if_generation_match") or blob.generation
            return Blob(data, None if version is None else str(version))
        raise BackendError(f"{name}: changed on every read ({_VERSIONED_READ_ATTEMPTS} attempts)")

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        blob = self.bucket.blob(name)
        if self.config.ttl:
            expires = datetime.now(timezone.utc).timestamp() + self.config.ttl
        if expires is not None:
            blob.custom_time = datetime.fromtimestamp(expires, timezone.utc)
        # an unconditional overwrite is idempotent, a conditional one safe to retry (the
        # library's own policy retries writes that name a generation)
        options: dict[str, Any] = dict(self._call)
        if if_absent:
            options["if_generation_match"] = 0
        elif if_version is not None:
            options["if_generation_match"] = int(if_version)
        try:
            blob.upload_from_string(data, **options)
        except api_exceptions.PreconditionFailed:
            raise PreconditionFailed(f"{name}: generation precondition failed") from None
        return None if blob.generation is None else str(blob.generation)

    def delete_blob(self, name: str) -> None:
        try:
            self.bucket.blob(name).delete(**self._call)
        except api_exceptions.NotFound:
            pass

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        for item in self.client.list_blobs(self.config.bucket, prefix=prefix,
                                            **self._call):
            yield BlobInfo(item.name, _epoch(item.updated) or 0.0, _epoch(item.custom_time))

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, api_exceptions.GoogleAPICallError):
            code = exc.code or 0
            return code in _TRANSIENT_STATUS or code >= 500
        return isinstance(exc, (api_exceptions.RetryError, google.auth.exceptions.TransportError,
                                requests.exceptions.ConnectionError, requests.exceptions.Timeout))

    # -- naming ------------------------------------------------------------------
    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri()

    def close(self) -> None:
        client = self._client.peek()
        if client is not None:
            client.close()
        self._client.reset()
        super().close()
