"""resultstore-gcs on the real GCS emulator: the blob kit, Celery's GCS backend, GCS specifics."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from celery.backends.base import BaseBackend
from celery.backends.gcs import GCSBackendBase
from google.api_core import exceptions as api_exceptions
from google.cloud import storage

import resultstore
from resultstore.errors import ImproperlyConfigured
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore.testing.celery_surface import check_celery_surface
from resultstore_gcs import GCSConfig, GCSStore
from resultstore_gcs.host import GCSBackend


class TestGCSStore(BlobStoreSuite):
    conditional = False  # the emulator ignores if_generation_match: the probe must notice
    reads_report_expiry = False  # a media download does not carry customTime

    @pytest.fixture
    def blob_target(self, gcs_settings: dict[str, Any]) -> BlobTarget:
        url = f"gs://{gcs_settings['gcs_bucket']}/{gcs_settings['gcs_base_path']}"
        # Celery 5.7's GCSBackend = GCSBackendBase + Firestore chord counting (and a Firestore
        # TTL-policy check at start-up, which no emulator here serves); results go through the base.
        return BlobTarget(url=url, settings={"gcs_project": gcs_settings["gcs_project"]},
                          host_class=GCSBackend,
                          celery_backend=lambda app: GCSBackendBase(app=app, url=url))

    def test_celery_public_surface(self, blob_target: BlobTarget) -> None:
        """Every public name of Celery's backend, on resultstore's code (or a listed difference)."""
        app = blob_target.celery_app()
        ours = blob_target.host_class(app=app, url=blob_target.url)
        theirs = blob_target.celery_backend(app)
        check_celery_surface(ours, theirs)
        assert isinstance(ours, type(theirs)) and isinstance(ours, BaseBackend)


def test_url_form_as_celery(gcs_settings: dict[str, Any]) -> None:
    config = GCSConfig.from_url("gs://bkt/a/b/?gcs_project=p2&gcs_ttl=60&gcs_threadpool_maxsize=4",
                                resultstore.Settings())
    assert (config.bucket, config.project, config.base_path, config.ttl, config.threadpool_maxsize) == (
        "bkt", "p2", "a/b", 60.0, 4)
    assert config.prefix == "a/b/" and config.as_uri() == "gs://bkt/a/b?gcs_project=p2"
    from_settings = GCSConfig.from_url("gs://", resultstore.Settings(gcs_settings))
    assert from_settings.bucket == gcs_settings["gcs_bucket"]


@pytest.mark.parametrize("url, message", [
    ("gs://", "Missing bucket name"),
    ("gs://b", "Missing project"),
    ("gs://b?gcs_project=p&gcs_ttl=-1", "Invalid ttl"),
    ("gs://b?gcs_project=p&project=x", "Unknown gs:// URL option"),
])
def test_bad_configuration_is_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        GCSConfig.from_url(url, resultstore.Settings())


def test_gcs_ttl_needs_a_delete_rule_and_sets_custom_time(gcs_client: storage.Client,
                                                          gcs_settings: dict[str, Any]) -> None:
    url = f"gs://{gcs_settings['gcs_bucket']}?gcs_project={gcs_settings['gcs_project']}&gcs_ttl=3600"
    with pytest.raises(ImproperlyConfigured, match="Missing lifecycle rule"):
        resultstore.connect(url)
    bucket = gcs_client.get_bucket(gcs_settings["gcs_bucket"])
    bucket.add_lifecycle_delete_rule(days_since_custom_time=0)
    bucket.patch()
    backend = resultstore.connect(url)
    backend.mark_as_done("ttl-check", 1)
    blob = bucket.get_blob("celery-task-meta-ttl-check")
    assert blob is not None and blob.custom_time is not None
    assert 3500 < blob.custom_time.timestamp() - time.time() <= 3600


def test_names_are_celerys_base_path_slash_key(gcs_client: storage.Client,
                                              gcs_settings: dict[str, Any]) -> None:
    backend = resultstore.connect("gs://", gcs_settings, result_expires=60)
    backend.mark_as_done("name-check", 1)
    blob = gcs_client.bucket(gcs_settings["gcs_bucket"]).get_blob(
        f"{gcs_settings['gcs_base_path']}/celery-task-meta-name-check")
    assert blob is not None and blob.custom_time is not None  # the expiry, for lifecycle rules


def test_errors_are_classified(gcs_settings: dict[str, Any]) -> None:
    store = GCSStore(GCSConfig.from_url("gs://", resultstore.Settings(gcs_settings)),
                     resultstore.Settings(gcs_settings))
    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        requests.get("http://127.0.0.1:9/storage/v1/b", timeout=2)  # what the client raises underneath
    assert store.exception_safe_to_retry(refused.value)
    # outages and throttling cannot be provoked on the emulator: the SDK's own error objects
    assert store.exception_safe_to_retry(api_exceptions.TooManyRequests("slow down"))
    assert store.exception_safe_to_retry(api_exceptions.ServiceUnavailable("later"))
    assert store.exception_safe_to_retry(api_exceptions.InternalServerError("oops"))
    assert not store.exception_safe_to_retry(api_exceptions.Forbidden("no"))
    assert not store.exception_safe_to_retry(api_exceptions.BadRequest("bad"))
    with pytest.raises(api_exceptions.NotFound) as missing:
        store.client.get_bucket("no-such-bucket-rs")
    assert not store.exception_safe_to_retry(missing.value)
