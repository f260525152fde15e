"""resultstore-azureblockblob on a real azurite server: the blob kit, Celery's backend, specifics."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from celery.backends.azureblockblob import AzureBlockBlobBackend as CelerysAzureBackend
from celery.backends.base import BaseBackend

import resultstore
from resultstore.errors import BackendStoreError, ImproperlyConfigured
from resultstore.masking import mask_url
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore.testing.celery_surface import check_celery_surface
from resultstore_azureblockblob import AzureBlockBlobStore, AzureConfig
from resultstore_azureblockblob.host import AzureBlockBlobBackend


class TestAzureBlockBlobStore(BlobStoreSuite):
    conditional = True  # azurite honours If-None-Match: * and If-Match ETags

    @pytest.fixture
    def blob_target(self, azure_connection_string: str, azure_settings: dict[str, Any]) -> BlobTarget:
        url = f"azureblockblob://{azure_connection_string}"
        key = azure_connection_string.split("AccountKey=")[1].split(";")[0]
        return BlobTarget(url=url, settings=azure_settings, host_class=AzureBlockBlobBackend,
                          celery_backend=lambda app: CelerysAzureBackend(app=app, url=url),
                          secrets=(key,))

    def test_celery_public_surface(self, blob_target: BlobTarget) -> None:
        """Every public name of Celery's backend, on resultstore's code (or a listed difference)."""
        app = blob_target.celery_app()
        ours = blob_target.host_class(app=app, url=blob_target.url)
        theirs = blob_target.celery_backend(app)
        check_celery_surface(ours, theirs)
        assert isinstance(ours, type(theirs)) and isinstance(ours, BaseBackend)
        assert ours.base_path == theirs.base_path


def test_as_uri_masks_like_celery(azure_connection_string: str) -> None:
    sas = "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2020&sig=SECRET%3D"
    assert mask_url(sas) == "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=**"
    url_sig = "BlobEndpoint=https://a.blob.core.windows.net/?sv=1&sig=SECRET&se=2"
    assert mask_url(url_sig) == "BlobEndpoint=https://a.blob.core.windows.net/?sv=1&sig=**&se=2"
    config = AzureConfig.from_url("azureblockblob://" + azure_connection_string, resultstore.Settings())
    assert "AccountKey=**" in config.as_uri() and config.as_uri(include_password=True).endswith(
        azure_connection_string)
    assert "AccountKey" not in repr(config)


@pytest.mark.parametrize("url, settings, message", [
    ("azureblockblob://", {}, "Invalid URL"),
    ("azureblockblob://x", {"azureblockblob_container_name": "ab"}, "3-63 characters"),
    ("azureblockblob://x", {"azureblockblob_read_timeout": "slow"}, "must be a number"),
])
def test_bad_configuration_is_a_clear_error(url: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        AzureConfig.from_url(url, resultstore.Settings(settings))


def test_celery_settings_and_defaults(azure_connection_string: str) -> None:
    config = AzureConfig.from_url("azureblockblob://" + azure_connection_string, resultstore.Settings(
        azureblockblob_connection_timeout=3, azureblockblob_retry_max_attempts=1))
    assert (config.container_name, config.base_path, config.connection_timeout, config.read_timeout,
            config.retry_max_attempts) == ("celery", "", 3.0, 120.0, 1)
    token = AzureConfig.from_url("azureblockblob://DefaultAzureCredential@https://acct.blob.core.windows.net",
                                 resultstore.Settings())
    assert token.credential == ("DefaultAzureCredential", "https://acct.blob.core.windows.net")


def test_container_is_created_on_first_use_and_names_are_celerys(
        azure_connection_string: str, azure_settings: dict[str, Any]) -> None:
    backend = resultstore.connect("azureblockblob://" + azure_connection_string, azure_settings,
                                  result_expires=60)
    backend.mark_as_done("name-check", 1)
    store = backend.store
    assert isinstance(store, AzureBlockBlobStore)
    name = azure_settings["azureblockblob_base_path"] + "celery-task-meta-name-check"
    properties = store.container.get_blob_client(name).get_blob_properties()
    assert float(properties.metadata["resultstore_expires"]) > 0


def test_errors_are_classified_and_never_show_the_key(azure_connection_string: str,
                                                      azure_settings: dict[str, Any]) -> None:
    key = azure_connection_string.split("AccountKey=")[1].split(";")[0]
    wrong = azure_connection_string.replace(key, "d3JvbmcgYnV0IHZhbGlkIGJhc2U2NCBrZXkgZm9yIHRlc3Rz")
    settings = {**azure_settings, "azureblockblob_conditional_writes": True,
                "azureblockblob_retry_max_attempts": 0}
    backend = resultstore.connect("azureblockblob://" + wrong, settings)
    with pytest.raises(BackendStoreError) as denied:
        backend.mark_as_done("t", 1)
    cause = denied.value.__cause__
    assert isinstance(cause, HttpResponseError) and cause.status_code == 403  # a wrong key
    assert not backend.store.exception_safe_to_retry(cause)
    assert key not in str(denied.value) and "d3Jvbm" not in str(denied.value)

    closed = azure_connection_string.replace(azure_connection_string.split("BlobEndpoint=")[1],
                                             "http://127.0.0.1:9/devstoreaccount1;")
    unreachable = resultstore.connect("azureblockblob://" + closed, settings)
    with pytest.raises(BackendStoreError) as refused:
        unreachable.mark_as_done("t", 1)
    assert isinstance(refused.value.__cause__, ServiceRequestError)
    assert unreachable.store.exception_safe_to_retry(refused.value.__cause__)
    assert key not in str(refused.value)

    store = backend.store
    assert not store.exception_safe_to_retry(ResourceNotFoundError("gone"))
    assert not store.exception_safe_to_retry(ClientAuthenticationError("expired token"))

    def http_error(status: int) -> HttpResponseError:
        # throttling and outages cannot be provoked on azurite: the SDK's own error objects
        error = HttpResponseError(f"HTTP {status}")
        error.status_code = status
        return error

    assert store.exception_safe_to_retry(http_error(503)) and store.exception_safe_to_retry(http_error(429))
    assert not store.exception_safe_to_retry(http_error(400))
