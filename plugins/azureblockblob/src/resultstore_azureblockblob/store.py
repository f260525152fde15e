"""``AzureBlockBlobStore``: the object API of :class:`~resultstore.blob.BlobStore` on azure-storage-blob."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient

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
from resultstore.masking import mask_text, url_secrets

from .config import AzureConfig

__all__ = ["AzureBlockBlobStore", "EXPIRES_METADATA"]

#: Blob metadata holding the expiry, epoch seconds (metadata names are C# identifiers).
EXPIRES_METADATA = "resultstore_expires"
#: Most sub-requests Azure accepts in one batch.
_BATCH = 256



class AzureBlockBlobStore(BlobStore):
    """Results as block blobs ``<container>/<base_path><celery key>`` (Celery's layout)."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        'the CA bundle azure-core verifies with (REQUESTS_CA_BUNDLE) and the '
        'BlobEndpoint host in the connection string')

    settings_prefix = "azureblockblob"

    def __init__(self, config: AzureConfig, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        super().__init__(config.base_path, settings, max_workers=config.threadpool_maxsize)
        self.config = config
        self._container: PerProcess[ContainerClient] = PerProcess(self._make_container)
        self.configure_conditions()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> AzureBlockBlobStore:
        return cls(AzureConfig.from_url(url, settings), settings)

    # -- client ------------------------------------------------------------
    def _service(self) -> BlobServiceClient:
        config = self.config
        options: dict[str, Any] = {
            "connection_timeout": config.connection_timeout, "read_timeout": config.read_timeout,
            "retry_total": config.retry_max_attempts, "initial_backoff": config.retry_initial_backoff_sec,
            "increment_base": config.retry_increment_base,
        }
        token = config.credential
        if token is None:
            try:
                return BlobServiceClient.from_connection_string(config.connection, **options)
            except ValueError as exc:  # the SDK's message never contains the key
                raise ImproperlyConfigured(f"Invalid Azure connection string: "
                                           f"{mask_text(str(exc), url_secrets(config.connection))}"
                                           ) from None
        try:
            import azure.identity
        except ImportError:
            raise ImproperlyConfigured(
                f"{token[0]} needs azure-identity: pip install 'resultstore-azureblockblob[identity]'"
            ) from None
        credential = getattr(azure.identity, token[0])()
        return BlobServiceClient(account_url=token[1], credential=credential, **options)

    def _make_container(self) -> ContainerClient:
        container = self._service().get_container_client(self.config.container_name)
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        return container

    @property
    def container(self) -> ContainerClient:
        """The container client of this process (the container is created on first use)."""
        return self._container.get()

    def probe_key(self) -> Hashable:
        return (type(self), self.config.connection, self.config.container_name)

    # -- object API ------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        try:
            download = self.container.get_blob_client(name).download_blob()
            data = download.readall()
        except ResourceNotFoundError:
            return None
        properties = download.properties
        expires = expiry_from_metadata(properties.metadata, EXPIRES_METADATA)
        return Blob(data, properties.etag, expires)

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        options: dict[str, Any] = {"overwrite": not if_absent}
        if expires is not None:
            options["metadata"] = {EXPIRES_METADATA: repr(float(expires))}
        if if_version is not None:
            options.update(etag=if_version, match_condition=MatchConditions.IfNotModified)
        try:
            response = self.container.get_blob_client(name).upload_blob(data, **options)
        except (ResourceExistsError, ResourceModifiedError):
            raise PreconditionFailed(f"{name}: condition not met") from None
        etag = response.get("etag")
        return None if etag is None else str(etag)

    def delete_blob(self, name: str) -> None:
        try:
            self.container.get_blob_client(name).delete_blob()
        except ResourceNotFoundError:
            pass

    def delete_blobs(self, names: Sequence[str]) -> None:
        for start in range(0, len(names), _BATCH):
            batch = names[start:start + _BATCH]
            if len(batch) == 1:
                self.delete_blob(batch[0])
                continue
            responses = self.container.delete_blobs(*batch, raise_on_any_failure=False)
            failed = [r for r in responses if r.status_code not in (200, 202, 404)]
            if failed:
                raise BackendError(f"{len(failed)} blobs were not deleted "
                                   f"(first: HTTP {failed[0].status_code} {failed[0].reason})")

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        for item in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            yield BlobInfo(item.name, item.last_modified.timestamp(),
                           expiry_from_metadata(item.metadata, EXPIRES_METADATA))

    def list_names(self, prefix: str) -> Iterator[str]:
        return iter(self.container.list_blob_names(name_starts_with=prefix))

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, ClientAuthenticationError):
            return False
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return True
        if isinstance(exc, HttpResponseError):
            status = exc.status_code or 0
            return status in (408, 429) or status >= 500
        return False

    # -- naming ------------------------------------------------------------------
    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        container = self._container.peek()
        if container is not None:
            container.close()
        self._container.reset()
        super().close()
