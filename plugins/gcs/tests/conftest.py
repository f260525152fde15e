"""A GCS emulator for the session (``STORAGE_EMULATOR_HOST``) and a fresh bucket per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from resultstore.testing.servers import ServerProcess

PROJECT = "rs-test-project"


def _binary(name: str) -> str:
    local = Path(sys.executable).parent / name  # the test environment's own console script
    return str(local) if local.exists() else name


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    argv = [_binary("gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", "{port}",
            "--in-memory"]
    with ServerProcess(argv, workdir=tmp_path_factory.mktemp("gcs")) as server:
        endpoint = f"http://127.0.0.1:{server.port}"
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint  # how google-cloud-storage finds emulators
        try:
            yield endpoint
        finally:
            if previous is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture
def gcs_client(gcs_emulator: str) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials())


@pytest.fixture
def gcs_bucket(gcs_client: storage.Client) -> str:
    name = f"rs-test-{uuid.uuid4().hex[:12]}"
    gcs_client.create_bucket(name)
    return name


@pytest.fixture
def gcs_settings(gcs_bucket: str) -> dict[str, Any]:
    return {"gcs_bucket": gcs_bucket, "gcs_project": PROJECT,
            "gcs_base_path": f"run-{uuid.uuid4().hex[:10]}"}
