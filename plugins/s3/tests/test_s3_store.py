"""resultstore-s3 on a real moto S3 server: the blob kit, Celery's S3Backend, S3 specifics."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest
from celery.backends.base import BaseBackend
from celery.backends.s3 import S3Backend as CelerysS3Backend

import resultstore
from resultstore.errors import BackendGetMetaError, ImproperlyConfigured
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore.testing.celery_surface import check_celery_surface
from resultstore_s3 import S3Config, S3Store
from resultstore_s3.host import S3Backend


class TestS3Store(BlobStoreSuite):
    conditional = True  # moto honours If-None-Match: * and If-Match

    @pytest.fixture
    def blob_target(self, s3_settings: dict[str, Any]) -> BlobTarget:
        return BlobTarget(url="s3://", settings=s3_settings, host_class=S3Backend,
                          celery_backend=lambda app: CelerysS3Backend(app=app),
                          secrets=(s3_settings["s3_secret_access_key"],))

    def test_celery_public_surface(self, blob_target: BlobTarget) -> None:
        """Every public name of Celery's backend, on resultstore's code (or a listed difference)."""
        app = blob_target.celery_app()
        ours = blob_target.host_class(app=app, url=blob_target.url)
        theirs = blob_target.celery_backend(app)
        check_celery_surface(ours, theirs)
        assert isinstance(ours, type(theirs)) and isinstance(ours, BaseBackend)
        assert ours.bucket_name == theirs.bucket_name


def test_url_overrides_settings_as_celerys_gs_form(s3_settings: dict[str, Any]) -> None:
    config = S3Config.from_url("s3://other-bucket/some/base/?s3_region=eu-west-1",
                               resultstore.Settings(s3_settings))
    assert (config.bucket, config.base_path, config.region) == ("other-bucket", "some/base/", "eu-west-1")
    bare = S3Config.from_url("s3://", resultstore.Settings(s3_settings))
    assert (bare.bucket, bare.base_path) == (s3_settings["s3_bucket"], s3_settings["s3_base_path"])
    secret = s3_settings["s3_secret_access_key"]
    assert secret not in repr(bare) and secret not in bare.as_uri()


@pytest.mark.parametrize("url, settings, message", [
    ("s3://", {}, "Missing bucket name"),
    ("s3://b/?region=x", {}, "Unknown s3:// URL option 'region'"),
    ("s3://key:secret@b/", {}, "carry no credentials"),
    ("s3://b/", {"s3_threadpool_maxsize": "many"}, "s3_threadpool_maxsize"),
])
def test_bad_configuration_is_a_clear_error(url: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        S3Config.from_url(url, resultstore.Settings(settings))
    assert "secret" not in str(info.value).replace("no credentials", "")


def test_missing_credentials_as_celery(monkeypatch: pytest.MonkeyPatch, s3_settings: dict[str, Any]
                                       ) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = {k: v for k, v in s3_settings.items() if "access" not in k}
    with pytest.raises(ImproperlyConfigured, match="Missing AWS credentials"):
        resultstore.connect("s3://", settings)


def test_object_names_and_metadata_are_celerys_layout(s3_settings: dict[str, Any]) -> None:
    backend = resultstore.connect("s3://", s3_settings, result_expires=60)
    backend.mark_as_done("name-check", 1)
    store = backend.store
    assert isinstance(store, S3Store)
    head = store.client.head_object(Bucket=s3_settings["s3_bucket"],
                                    Key=s3_settings["s3_base_path"] + "celery-task-meta-name-check")
    assert float(head["Metadata"]["resultstore-expires"]) > 0


def test_errors_are_classified_and_never_show_the_secret(monkeypatch: pytest.MonkeyPatch,
                                                        s3_settings: dict[str, Any]) -> None:
    secret = s3_settings["s3_secret_access_key"]
    store = S3Store(S3Config.from_url("s3://", resultstore.Settings(s3_settings)),
                    resultstore.Settings(s3_settings))
    missing_bucket = S3Store(S3Config.from_url("s3://no-such-bucket-rs/", resultstore.Settings(s3_settings)),
                             resultstore.Settings(s3_settings, s3_conditional_writes=True))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        missing_bucket.get("celery-task-meta-x")
    assert not store.exception_safe_to_retry(info.value)  # 404 NoSuchBucket: retrying won't help
    backend = resultstore.ResultBackend(missing_bucket, resultstore.Settings(s3_settings))
    with pytest.raises(BackendGetMetaError) as wrapped:
        backend.get_task_meta("x")
    assert secret not in str(wrapped.value) and "not retried" in str(wrapped.value)

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    closed = {**s3_settings, "s3_endpoint_url": "http://127.0.0.1:9", "s3_conditional_writes": True}
    unreachable = S3Store(S3Config.from_url("s3://", resultstore.Settings(closed)),
                          resultstore.Settings(closed))
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as refused:
        unreachable.get("celery-task-meta-x")
    assert store.exception_safe_to_retry(refused.value)
    assert secret not in str(refused.value)

    def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
        # S3 throttling / outages cannot be provoked on moto: the SDK's own error objects
        return botocore.exceptions.ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")

    assert store.exception_safe_to_retry(client_error("SlowDown", 503))
    assert store.exception_safe_to_retry(client_error("InternalError", 500))
    assert not store.exception_safe_to_retry(client_error("AccessDenied", 403))
    assert not store.exception_safe_to_retry(client_error("InvalidArgument", 400))
