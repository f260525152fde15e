"""``S3Store``: the object API of :class:`~resultstore.blob.BlobStore` on boto3."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from resultstore.blob import (
    Blob,
    BlobInfo,
    BlobStore,
    PerProcess,
    PreconditionFailed,
    expiry_from_metadata,
)
from resultstore.config import Settings
from resultstore.errors import BackendError, ImproperlyConfigured

from .config import S3Config

__all__ = ["S3Store", "EXPIRES_METADATA"]

#: User metadata (``x-amz-meta-resultstore-expires``) holding the expiry, epoch seconds.
EXPIRES_METADATA = "resultstore-expires"
_THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "SlowDown",
    "RequestLimitExceeded", "RequestTimeout", "RequestTimeoutException", "InternalError",
    "ServiceUnavailable", "PriorRequestNotComplete",
})
#: S3 answers 409 when another conditional write to the key is in flight: retry it.
_CONFLICT_RETRIES = 8


def _code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status or 0)



class S3Store(BlobStore):
    """Results as S3 objects named ``<s3_base_path><celery key>`` (Celery's S3Backend layout)."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        'the CA bundle botocore verifies with (AWS_CA_BUNDLE, or ca_bundle in the '
        'AWS config file) and the host name of s3_endpoint_url')

    settings_prefix = "s3"

    def __init__(self, config: S3Config, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        super().__init__(config.base_path, settings, max_workers=config.threadpool_maxsize)
        self.config = config
        session = self._session()
        if session.get_credentials() is None:
            raise ImproperlyConfigured(
                "Missing AWS credentials: set s3_access_key_id and s3_secret_access_key, or "
                "provide them the usual boto3 way (environment, profile, instance role).")
        self._client: PerProcess[Any] = PerProcess(self._make_client)
        self.configure_conditions()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> S3Store:
        return cls(S3Config.from_url(url, settings), settings)

    # -- client ------------------------------------------------------------
    def _session(self) -> boto3.session.Session:
        return boto3.session.Session(aws_access_key_id=self.config.access_key_id,
                                     aws_secret_access_key=self.config.secret_access_key,
                                     region_name=self.config.region)

    def _make_client(self) -> Any:
        return self._session().client(
            "s3", endpoint_url=self.config.endpoint_url,
            config=botocore.config.Config(**{"max_pool_connections": self.max_workers,
                                             **self.config.client_config}))

    @property
    def client(self) -> Any:
        """The boto3 S3 client of this process."""
        return self._client.get()

    def probe_key(self) -> Hashable:
        return (type(self), self.config.endpoint_url, self.config.bucket)

    # -- object API ------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        try:
            response = self.client.get_object(Bucket=self.config.bucket, Key=name)
        except botocore.exceptions.ClientError as exc:
            if _code(exc)[0] in ("NoSuchKey", "404"):
                return None
            raise
        data = response["Body"].read()
        return Blob(data, response.get("ETag"),
                    expiry_from_metadata(response.get("Metadata"), EXPIRES_METADATA))

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        params: dict[str, Any] = {"Bucket": self.config.bucket, "Key": name, "Body": data}
        if expires is not None:
            params["Metadata"] = {EXPIRES_METADATA: repr(float(expires))}
        if if_absent:
            params["IfNoneMatch"] = "*"
        if if_version is not None:
            params["IfMatch"] = if_version
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                etag = self.client.put_object(**params).get("ETag")
                return None if etag is None else str(etag)
            except botocore.exceptions.ClientError as exc:
                code, status = _code(exc)
                if code == "PreconditionFailed" or status == 412:
                    raise PreconditionFailed(f"{name}: {code}") from None
                if status != 409 or not (if_absent or if_version):
                    raise
                if attempt == _CONFLICT_RETRIES:
                    raise PreconditionFailed(f"{name}: concurrent conditional writes") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def delete_blob(self, name: str) -> None:
        self.client.delete_object(Bucket=self.config.bucket, Key=name)

    def delete_blobs(self, names: Sequence[str]) -> None:
        for start in range(0, len(names), 1000):
            batch = [{"Key": name} for name in names[start:start + 1000]]
            response = self.client.delete_objects(Bucket=self.config.bucket,
                                                  Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise BackendError(f"{len(errors)} objects were not deleted, e.g. "
                                   f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}")

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.config.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield BlobInfo(item["Key"], item["LastModified"].timestamp(), None, expiry_known=False)

    def head_blob(self, name: str) -> BlobInfo | None:
        try:
            response = self.client.head_object(Bucket=self.config.bucket, Key=name)
        except botocore.exceptions.ClientError as exc:
            if _code(exc)[1] == 404 or _code(exc)[0] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return BlobInfo(name, response["LastModified"].timestamp(),
                        expiry_from_metadata(response.get("Metadata"), EXPIRES_METADATA))

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, botocore.exceptions.SSLError):
            return False  # a certificate problem does not heal by retrying
        if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
            return True
        if isinstance(exc, botocore.exceptions.ClientError):
            code, status = _code(exc)
            return code in _THROTTLING or status == 429 or status >= 500
        return False

    # -- naming ------------------------------------------------------------------
    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri()

    def close(self) -> None:
        client = self._client.peek()
        if client is not None:
            client.close()
        self._client.reset()
        super().close()
