"""A moto S3 server for the session and a fresh base path per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from resultstore.testing.moto import moto_argv
from resultstore.testing.servers import ServerProcess

SECRET = f"rs-test-secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ServerProcess(moto_argv(), workdir=tmp_path_factory.mktemp("moto")) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A new bucket per test: moto lists a prefix by scanning the whole bucket."""
    name = f"rs-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                 aws_access_key_id="rs-test-key", aws_secret_access_key=SECRET).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_settings(moto_endpoint: str, s3_bucket: str) -> dict[str, Any]:
    """Celery settings of a fresh location: the session's bucket and a new base path."""
    return {"s3_bucket": s3_bucket, "s3_base_path": f"run-{uuid.uuid4().hex[:10]}/",
            "s3_endpoint_url": moto_endpoint, "s3_region": "us-east-1",
            "s3_access_key_id": "rs-test-key", "s3_secret_access_key": SECRET}
